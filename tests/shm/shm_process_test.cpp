// shm_channel between processes: across fork, across fork+exec (posix_spawn of shm_peer),
// between two sibling processes that each received one end over SCM_RIGHTS, and with a peer
// killed by SIGKILL in the middle of the stream, even inside a reservation.
#include <socketpair/ancillary.hpp>
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/shm/shm_support.hpp"

extern char** environ;

namespace sockpair::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto watchdog = 60s;  // against hangs only; no test asserts a timing

// Exchanges `count` messages with an echoing peer and returns the first problem.
std::string ping_echo(shm_channel& channel, std::uint64_t count) {
  const std::size_t max = channel.max_message_size();
  std::vector<std::byte> reply(max);
  for (std::uint64_t n = 0; n < count; ++n) {
    if (auto sent = channel.send(message_bytes(n, max), watchdog); !sent) {
      return "send " + std::to_string(n) + ": " + sent.error().message();
    }
    auto got = channel.receive(reply, watchdog);
    if (!got || !got.value()) {
      return "echo " + std::to_string(n) + ": " +
             (got ? std::string("end of stream") : got.error().message());
    }
    if (!is_message(std::span(reply).first(*got.value()), n, max)) {
      return "echo " + std::to_string(n) + " differs";
    }
  }
  return "";
}

// Echoes until the end of the stream; the verdict a forked child reports.
std::string echo_all(shm_channel& channel) {
  std::vector<std::byte> buffer(channel.max_message_size());
  for (;;) {
    auto got = channel.receive(buffer, watchdog);
    if (!got) {
      return "receive: " + got.error().message();
    }
    if (!got.value()) {
      return "ok";
    }
    if (!channel.send(std::span(buffer).first(*got.value()), watchdog)) {
      return "send failed";
    }
  }
}

// In a child: reserves 1000 bytes for message `sequence`, writes half of them and dies by
// SIGKILL, so that the reservation is never published. Returns (the child's verdict) only if
// the reservation failed or the signal did not kill.
std::string die_inside_a_reservation(shm_channel& channel, std::uint64_t sequence) {
  auto room = channel.reserve(1000);
  if (!room) {
    return "reserve failed";
  }
  const auto next = pattern(sequence, 1000);
  std::copy(next.begin(), next.begin() + 500, room.value().begin());
  ::raise(SIGKILL);
  return "not killed";
}

TEST(ShmProcess, WorksAcrossForkWithTheChildAccepting) {
  auto pair = socket_pair<stream>::create().value();
  auto child = child_process::start([&]() -> std::string {
    static_cast<void>(pair.first.close());
    auto channel = shm_channel::accept(std::move(pair.second), {}, watchdog);
    if (!channel) {
      return "accept: " + channel.error().message();
    }
    return echo_all(channel.value());
  });
  ASSERT_TRUE(pair.second.close());
  auto channel = shm_channel::create(std::move(pair.first));
  ASSERT_TRUE(channel) << channel.error().message();
  EXPECT_EQ(ping_echo(channel.value(), 3000), "");
  channel.value() = shm_channel();  // the end: the child returns
  EXPECT_EQ(child.wait(), "ok");
}

TEST(ShmProcess, WorksAcrossForkWithTheChildCreatingOverSeqpacket) {
  auto pair = socket_pair<seqpacket>::create().value();
  auto child = child_process::start([&]() -> std::string {
    static_cast<void>(pair.first.close());
    auto channel = shm_channel::create(std::move(pair.second), {.ring_size = 8192});
    if (!channel) {
      return "create: " + channel.error().message();
    }
    return echo_all(channel.value());
  });
  ASSERT_TRUE(pair.second.close());
  auto channel = shm_channel::accept(std::move(pair.first), {}, watchdog);
  ASSERT_TRUE(channel) << channel.error().message();
  EXPECT_EQ(channel.value().ring_size(), 8192U);
  EXPECT_EQ(ping_echo(channel.value(), 3000), "");
  channel.value() = shm_channel();
  EXPECT_EQ(child.wait(), "ok");
}

// The helper binary: named by SHM_PEER (CMake's CTest sets it), from Bazel's runfiles, or
// next to this test when built by hand.
std::string peer_path() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): GoogleTest runs tests on one thread here
  if (const char* explicit_path = std::getenv("SHM_PEER")) {
    return explicit_path;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): as above
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");  // NOLINT(concurrency-mt-unsafe): above
  if (srcdir != nullptr && workspace != nullptr) {
    return std::string(srcdir) + "/" + workspace + "/tests/shm/shm_peer";
  }
  std::array<char, PATH_MAX> self{};
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string dir(self.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  return dir.substr(0, dir.rfind('/')) + "/shm_peer";
}

// Starts shm_peer on `theirs` (which it alone inherits) in `role`; returns its pid.
pid_t spawn_peer(socket<stream>& theirs, const char* role) {
  EXPECT_TRUE(theirs.set_cloexec(false));
  const std::string path = peer_path();
  const std::string fd = std::to_string(theirs.native_handle());
  std::string role_arg = role;
  char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(fd.c_str()), role_arg.data(),
                  nullptr};
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ), 0) << path;
  return pid;
}

int wait_exit_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ShmProcess, WorksAcrossForkAndExecInBothRoles) {
  for (const char* role : {"accept", "create"}) {
    SCOPED_TRACE(role);
    auto pair = socket_pair<stream>::create().value();
    const pid_t pid = spawn_peer(pair.second, role);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(pair.second.close());
    auto channel = std::string(role) == "accept"
                       ? shm_channel::create(std::move(pair.first))
                       : shm_channel::accept(std::move(pair.first), {}, watchdog);
    ASSERT_TRUE(channel) << channel.error().message();
    EXPECT_EQ(ping_echo(channel.value(), 2000), "");
    channel.value() = shm_channel();
    EXPECT_EQ(wait_exit_status(pid), 0);
  }
}

TEST(ShmProcess, WorksBetweenSiblingsThatEachReceivedAnEnd) {
  // Two children, forked before the channel's pair exists; each gets one end over its own
  // control pair (SCM_RIGHTS), so neither inherited anything of the channel.
  auto control_a = socket_pair<seqpacket>::create().value();
  auto control_b = socket_pair<seqpacket>::create().value();
  auto receive_end = [](socket<seqpacket>& control) -> result<socket<stream>> {
    std::array<std::byte, 1> tag{};
    BOOST_OUTCOME_TRY(auto got, receive_with_fds<1>(control, tag));
    if (got.fds.size() != 1) {
      return make_error_code(errc::unexpected_eof);
    }
    return socket<stream>::adopt(std::move(got.fds[0]));
  };
  constexpr std::uint64_t count = 2000;
  auto producer = child_process::start([&]() -> std::string {
    static_cast<void>(control_b.first.close());
    static_cast<void>(control_b.second.close());
    auto end = receive_end(control_a.second);
    if (!end) {
      return "receive end: " + end.error().message();
    }
    auto channel = shm_channel::create(std::move(end).value(), {.ring_size = 16384});
    if (!channel) {
      return "create: " + channel.error().message();
    }
    for (std::uint64_t n = 0; n < count; ++n) {
      if (!channel.value().send(message_bytes(n, channel.value().max_message_size()), watchdog)) {
        return "send failed";
      }
    }
    return "ok";
  });
  auto consumer = child_process::start([&]() -> std::string {
    static_cast<void>(control_a.first.close());
    static_cast<void>(control_a.second.close());
    auto end = receive_end(control_b.second);
    if (!end) {
      return "receive end: " + end.error().message();
    }
    auto channel = shm_channel::accept(std::move(end).value(), {}, watchdog);
    if (!channel) {
      return "accept: " + channel.error().message();
    }
    std::vector<std::byte> buffer(channel.value().max_message_size());
    for (std::uint64_t n = 0;; ++n) {
      auto got = channel.value().receive(buffer, watchdog);
      if (!got) {
        return "receive: " + got.error().message();
      }
      if (!got.value()) {
        return n == count ? "ok" : "ended after " + std::to_string(n);
      }
      if (!is_message(std::span(buffer).first(*got.value()), n, buffer.size())) {
        return "message " + std::to_string(n) + " differs";
      }
    }
  });
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(send_with_fds(control_a.first, std::string_view("a"), {pair.first.native_handle()}));
  ASSERT_TRUE(send_with_fds(control_b.first, std::string_view("b"), {pair.second.native_handle()}));
  ASSERT_TRUE(pair.first.close());
  ASSERT_TRUE(pair.second.close());
  EXPECT_EQ(producer.wait(), "ok");
  EXPECT_EQ(consumer.wait(), "ok");
}

// Reads stamped messages, numbered from `first`, until the end; returns how many arrived, or
// -1 on a problem.
long receive_until_end(shm_channel& channel, std::string& problem, long first = 0) {
  std::vector<std::byte> buffer(channel.max_message_size());
  for (long n = first;; ++n) {
    auto got = channel.receive(buffer, watchdog);
    if (!got) {
      problem = "receive " + std::to_string(n) + ": " + got.error().message();
      return -1;
    }
    if (!got.value()) {
      return n - first;
    }
    if (!is_message(std::span(buffer).first(*got.value()), static_cast<std::uint64_t>(n),
                    buffer.size())) {
      problem = "message " + std::to_string(n) + " torn or out of order";
      return -1;
    }
  }
}

// The same with receive_batch: every message visited once, in order.
long receive_batches_until_end(shm_channel& channel, std::string& problem, long first = 0) {
  long n = first;
  for (;;) {
    auto got = channel.receive_batch(
        [&](std::span<const std::byte> m) {
          if (problem.empty() &&
              !is_message(m, static_cast<std::uint64_t>(n), channel.max_message_size())) {
            problem = "message " + std::to_string(n) + " torn or out of order";
          }
          ++n;
        },
        watchdog);
    if (!got) {
      problem = "receive_batch at " + std::to_string(n) + ": " + got.error().message();
      return -1;
    }
    if (!got.value()) {
      return problem.empty() ? n - first : -1;
    }
  }
}

TEST(ShmProcess, AWriterKilledMidStreamLeavesEveryWholeMessageThenTheEnd) {
  for (const int mode : {0, 1, 2}) {
    const bool spinning = mode != 1;
    const bool batches = mode == 2;
    SCOPED_TRACE(std::string(spinning ? "spinning" : "not spinning") +
                 (batches ? ", receive_batch" : ", receive"));
    auto pair = socket_pair<stream>::create().value();
    auto child = child_process::start([&]() -> std::string {
      static_cast<void>(pair.first.close());
      auto channel = shm_channel::accept(std::move(pair.second), {}, watchdog);
      if (!channel) {
        return "accept: " + channel.error().message();
      }
      const std::size_t max = channel.value().max_message_size();
      for (std::uint64_t n = 0;; ++n) {
        // Fill in place, slowly for large messages, so that the kill often lands mid-write.
        const auto bytes = message_bytes(n, max);
        auto room = channel.value().reserve(bytes.size(), watchdog);
        if (!room) {
          return "reserve: " + room.error().message();
        }
        std::copy(bytes.begin(), bytes.end(), room.value().begin());
        if (!channel.value().commit(bytes.size())) {
          return "commit failed";
        }
      }
    });
    ASSERT_TRUE(pair.second.close());
    auto channel = shm_channel::create(
        std::move(pair.first), {.ring_size = std::size_t{64} << 10, .spin = spinning ? 50us : 0ns});
    ASSERT_TRUE(channel) << channel.error().message();
    std::string problem;
    std::vector<std::byte> buffer(channel.value().max_message_size());
    long n = 0;
    for (; n < 500; ++n) {
      auto got = channel.value().receive(buffer, watchdog);
      ASSERT_TRUE(got && got.value()) << n;
      ASSERT_TRUE(is_message(std::span(buffer).first(*got.value()), static_cast<std::uint64_t>(n),
                             buffer.size()));
    }
    ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);
    const long rest = batches ? receive_batches_until_end(channel.value(), problem, n)
                              : receive_until_end(channel.value(), problem, n);
    EXPECT_EQ(problem, "");
    EXPECT_GE(rest, 0);
    EXPECT_NE(child.wait().find("killed by signal 9"), std::string::npos);
  }
}

TEST(ShmProcess, APeerThatDiesInsideAReservationPublishedNoneOfIt) {
  auto pair = socket_pair<stream>::create().value();
  constexpr long whole = 37;
  auto child = child_process::start([&]() -> std::string {
    static_cast<void>(pair.first.close());
    auto channel = shm_channel::create(std::move(pair.second));
    if (!channel) {
      return "create: " + channel.error().message();
    }
    const std::size_t max = channel.value().max_message_size();
    for (long n = 0; n < whole; ++n) {
      if (!channel.value().send(message_bytes(static_cast<std::uint64_t>(n), max))) {
        return "send failed";
      }
    }
    return die_inside_a_reservation(channel.value(), whole);
  });
  ASSERT_TRUE(pair.second.close());
  auto channel = shm_channel::accept(std::move(pair.first), {}, watchdog);
  ASSERT_TRUE(channel) << channel.error().message();
  std::string problem;
  EXPECT_EQ(receive_until_end(channel.value(), problem), whole) << problem;
  EXPECT_NE(child.wait().find("killed by signal 9"), std::string::npos);
}

TEST(ShmProcess, APeerKilledAfterABatchLeavesReceiveBatchEveryPublishedMessageThenTheEnd) {
  auto pair = socket_pair<stream>::create().value();
  constexpr long whole = 41;
  auto child = child_process::start([&]() -> std::string {
    static_cast<void>(pair.first.close());
    auto channel = shm_channel::create(std::move(pair.second));
    if (!channel) {
      return "create: " + channel.error().message();
    }
    const std::size_t max = channel.value().max_message_size();
    for (long n = 0; n < whole; ++n) {
      if (!channel.value().send(message_bytes(static_cast<std::uint64_t>(n), max), watchdog,
                                shm_publish::batched)) {
        return "send failed";
      }
    }
    if (!channel.value().flush()) {
      return "flush failed";
    }
    return die_inside_a_reservation(channel.value(), whole);
  });
  ASSERT_TRUE(pair.second.close());
  auto channel = shm_channel::accept(std::move(pair.first), {}, watchdog);
  ASSERT_TRUE(channel) << channel.error().message();
  EXPECT_NE(child.wait().find("killed by signal 9"), std::string::npos);
  // The peer is dead before the first call: one batch holds all it published, then the end.
  std::string problem;
  EXPECT_EQ(receive_batches_until_end(channel.value(), problem), whole) << problem;
}

TEST(ShmProcess, AWriterLearnsThatItsReaderWasKilled) {
  auto pair = socket_pair<stream>::create().value();
  auto child = child_process::start([&]() -> std::string {
    static_cast<void>(pair.first.close());
    auto channel = shm_channel::accept(std::move(pair.second), {}, watchdog);
    if (!channel) {
      return "accept: " + channel.error().message();
    }
    std::vector<std::byte> buffer(channel.value().max_message_size());
    for (;;) {
      static_cast<void>(channel.value().receive(buffer, watchdog));
    }
  });
  ASSERT_TRUE(pair.second.close());
  auto channel = shm_channel::create(std::move(pair.first), {.ring_size = 8192});
  ASSERT_TRUE(channel) << channel.error().message();
  const std::vector<std::byte> message(1000);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(channel.value().send(message, watchdog));
  }
  ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);
  EXPECT_NE(child.wait().find("killed by signal 9"), std::string::npos);
  for (int i = 0;; ++i) {
    auto r = channel.value().send(message, watchdog);
    if (!r) {
      EXPECT_EQ(r.error(), std::errc::broken_pipe) << r.error().message();
      break;
    }
    ASSERT_LT(i, 100) << "a full ring with a dead reader must fail";
  }
}

}  // namespace
}  // namespace sockpair::testing
