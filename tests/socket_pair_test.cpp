#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "tests/support/environment.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::dgram;
using sockpair::seqpacket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::has_cloexec;
using sockpair::testing::is_nonblocking;
using sockpair::testing::is_open;
using sockpair::testing::open_fds;

// Sends `text` from `from` and reads it at `to` with the raw syscalls (the library's I/O is
// tested elsewhere; here the point is that the kernel connected the two descriptors).
void expect_round_trip(int from, int to, const std::string& text) {
  ASSERT_EQ(::send(from, text.data(), text.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(text.size()));
  std::array<char, 64> buffer{};
  const ssize_t got = ::recv(to, buffer.data(), buffer.size(), 0);
  ASSERT_EQ(got, static_cast<ssize_t>(text.size()));
  EXPECT_EQ(std::string(buffer.data(), static_cast<std::size_t>(got)), text);
}

template <class Type>
class EveryUnixPairType : public ::testing::Test {};
using UnixTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(EveryUnixPairType, UnixTypes);

TYPED_TEST(EveryUnixPairType, CreatesRoundTripsBothWaysAndCloses) {
  int a_fd = -1;
  int b_fd = -1;
  {
    auto pair = socket_pair<TypeParam>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    auto [a, b] = std::move(pair).value();
    a_fd = a.native_handle();
    b_fd = b.native_handle();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    ASSERT_NE(a_fd, b_fd);

    int type = 0;
    socklen_t len = sizeof type;
    ASSERT_EQ(::getsockopt(a_fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
    EXPECT_EQ(type, TypeParam::value);

    expect_round_trip(a_fd, b_fd, "ping");
    expect_round_trip(b_fd, a_fd, "pong");
  }
  EXPECT_FALSE(is_open(a_fd));
  EXPECT_FALSE(is_open(b_fd));
}

TYPED_TEST(EveryUnixPairType, CloseOnExecIsOnByDefaultAndBlockingIsTheDefault) {
  auto pair = socket_pair<TypeParam>::create();
  ASSERT_TRUE(pair);
  for (const auto* end : {&pair.value().first, &pair.value().second}) {
    EXPECT_TRUE(has_cloexec(end->native_handle()));
    EXPECT_FALSE(is_nonblocking(end->native_handle()));
  }
}

TYPED_TEST(EveryUnixPairType, OptionsSetAndClearTheDescriptorFlags) {
  auto pair = socket_pair<TypeParam>::create({.nonblocking = true, .close_on_exec = false});
  ASSERT_TRUE(pair);
  for (const auto* end : {&pair.value().first, &pair.value().second}) {
    EXPECT_FALSE(has_cloexec(end->native_handle()));
    EXPECT_TRUE(is_nonblocking(end->native_handle()));
  }
  // Non-blocking for real: an empty socket reports EAGAIN instead of waiting.
  char byte = 0;
  EXPECT_EQ(::recv(pair.value().first.native_handle(), &byte, 1, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(SocketPair, NonZeroProtocolOnUnixDomainFailsWithEprotonosupport) {
  // Linux accepts 0 and PF_UNIX (1) as AF_UNIX protocols; anything else is refused.
  const auto before = open_fds();
  auto pair = socket_pair<stream>::create({.protocol = 2});
  ASSERT_FALSE(pair);
  EXPECT_EQ(pair.error(), std::errc::protocol_not_supported);
  EXPECT_EQ(pair.error().category(), std::system_category());
  EXPECT_EQ(open_fds(), before);
}

TEST(SocketPair, TipcPairWorksOrReportsEafnosupport) {
  auto pair = socket_pair<sockpair::rdm, sockpair::tipc_domain>::create();
  if (!pair && pair.error() == std::errc::address_family_not_supported) {
    ASSERT_FALSE(sockpair::testing::tipc_required())
        << "EAFNOSUPPORT where SOCKPAIR_REQUIRE_TIPC is set: the tipc module must work";
    GTEST_SKIP() << "AF_TIPC is not available here (no tipc kernel module): socketpair(2) "
                    "reported EAFNOSUPPORT, which is what the library must pass on";
  }
  ASSERT_TRUE(pair) << pair.error().message();
  expect_round_trip(pair.value().first.native_handle(), pair.value().second.native_handle(),
                    "tipc");
}

// Runs `body` in a forked child and returns what it wrote to `report` ("ok" on success).
template <class Body>
std::string run_in_child(Body body) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return "pipe2 failed";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    const std::string message = body();
    static_cast<void>(::write(report[1], message.data(), message.size()));
    ::_exit(0);
  }
  ::close(report[1]);
  std::string message;
  std::array<char, 256> buffer{};
  ssize_t got = 0;
  while ((got = ::read(report[0], buffer.data(), buffer.size())) > 0) {
    message.append(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(report[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child died: " + message;
  }
  return message;
}

TEST(SocketPair, EmfileIsReportedAndLeavesNoDescriptorOpen) {
  // With exactly one free descriptor slot, the kernel can allocate the first end of the
  // pair but not the second: the case where a careless implementation leaks one.
  const std::string outcome = run_in_child([]() -> std::string {
    const auto initial = open_fds();
    const int limit = *initial.rbegin() + 2;
    const rlimit lowered{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) {
      return "setrlimit failed";
    }
    // Fill every hole below the limit, then free exactly one slot.
    int last = -1;
    for (int fd; (fd = ::dup(0)) != -1;) {
      last = fd;
    }
    if (errno != EMFILE || last == -1) {
      return "could not fill the descriptor table";
    }
    ::close(last);
    const auto before = open_fds();  // uses the free slot only while listing
    auto pair = socket_pair<stream>::create();
    if (pair) {
      return "create() succeeded with one free slot";
    }
    if (pair.error() != std::errc::too_many_files_open) {
      return "wrong error: " + pair.error().message();
    }
    if (open_fds() != before) {
      return "descriptor count changed";
    }
    return "ok";
  });
  EXPECT_EQ(outcome, "ok");
}

TEST(SocketPair, EmfileWithNoFreeSlotIsReportedToo) {
  const std::string outcome = run_in_child([]() -> std::string {
    const auto initial = open_fds();
    const int limit = *initial.rbegin() + 1;
    const rlimit lowered{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) {
      return "setrlimit failed";
    }
    while (::dup(0) != -1) {
    }
    auto pair = socket_pair<seqpacket>::create();
    if (pair) {
      return "create() succeeded with a full table";
    }
    return pair.error() == std::errc::too_many_files_open
               ? "ok"
               : "wrong error: " + pair.error().message();
  });
  EXPECT_EQ(outcome, "ok");
}

TEST(SocketPair, MovedFromEndsAreEmptyAndNothingIsClosedTwice) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  const int first = pair.value().first.native_handle();
  const int second = pair.value().second.native_handle();

  auto moved = std::move(pair).value();
  EXPECT_FALSE(pair.value().first);   // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(pair.value().second);  // NOLINT(bugprone-use-after-move)

  auto end = std::move(moved.first);
  EXPECT_FALSE(moved.first);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(end.native_handle(), first);
  EXPECT_TRUE(is_open(first));
  EXPECT_TRUE(is_open(second));

  // Destroying the moved-from owners must not touch the descriptors.
  pair = sockpair::result<socket_pair<stream>>(socket_pair<stream>{});
  moved.first = {};
  EXPECT_TRUE(is_open(first));

  // Close through the owner, let the kernel reuse the number, and make sure the owner's
  // destructor does not close the newcomer.
  ASSERT_TRUE(end.close());
  EXPECT_FALSE(end);
  EXPECT_FALSE(is_open(first));
  const int reused = ::dup(second);
  ASSERT_EQ(reused, first);
  { auto gone = std::move(end); }
  EXPECT_TRUE(is_open(reused));
  ::close(reused);
}

TEST(SocketPair, ReleaseHandsTheDescriptorToTheCaller) {
  int raw = -1;
  {
    auto pair = socket_pair<dgram>::create();
    ASSERT_TRUE(pair);
    raw = pair.value().first.release();
    EXPECT_FALSE(pair.value().first);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

}  // namespace
