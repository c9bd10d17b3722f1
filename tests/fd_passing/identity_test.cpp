// Identity that cannot be recycled (<socketpair/identity.hpp>): the peer's pidfd
// (SO_PEERPIDFD) and each message's sender as a pidfd (SO_PASSPIDFD, SCM_PIDFD, handed over
// through fd_receive_options::sender_pidfd), both Linux
// >= 6.5, over real pairs and real child processes. On an older kernel each call's clear
// error is pinned instead.
#include <socketpair/ancillary.hpp>
#include <socketpair/identity.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/environment.hpp"
#include "tests/support/fds.hpp"
#include "tests/support/kernel.hpp"

namespace {

using sockpair::errc;
using sockpair::receive_with_fds;
using sockpair::send_with_fds;
using sockpair::seqpacket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::testing::bytes_of;
using sockpair::testing::exit_status_of;
using sockpair::testing::has_cloexec;
using sockpair::testing::kernel_at_least;
using sockpair::testing::make_pipe;
using sockpair::testing::open_fds;

// The pidfd features exist from Linux 6.5 on.
bool has_pidfds() { return kernel_at_least(6, 5); }

// The pid a pidfd refers to, from /proc/self/fdinfo: -1 once the process has exited and been
// reaped (Linux >= 5.x prints "Pid:"), 0 when the file says nothing.
long pid_of(const unique_fd& pidfd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(pidfd.get()));
  std::string word;
  while (info >> word) {
    if (word == "Pid:") {
      long pid = 0;
      info >> pid;
      return pid;
    }
  }
  return 0;
}

// True when the process `pidfd` refers to has exited (a pidfd polls readable then).
bool has_exited(const unique_fd& pidfd) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// ---- SO_PEERPIDFD --------------------------------------------------------------------------

TEST(PeerPidfd, IsThePairsCreatorOwnedAndCloseOnExec) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  auto pidfd = sockpair::peer_pidfd(pair.value().first);
  if (!has_pidfds()) {
    ASSERT_FALSE(pidfd);
    EXPECT_EQ(pidfd.error(), errc::not_supported_by_kernel);
    EXPECT_EQ(pidfd.error(), std::errc::not_supported);
    return;
  }
  ASSERT_TRUE(pidfd) << pidfd.error().message();
  ASSERT_TRUE(pidfd.value());
  EXPECT_EQ(pid_of(pidfd.value()), ::getpid());
  EXPECT_TRUE(has_cloexec(pidfd.value().get()));
  EXPECT_FALSE(has_exited(pidfd.value()));
}

TEST(PeerPidfd, NamesTheCreatorEvenAfterItExitedAndItsPidIsFree) {
  // A child makes the pair, passes one end back and exits. Its pid may now be reused; the
  // pidfd still names that one process: it reports the process gone, never a newcomer.
  if (!has_pidfds()) {
    GTEST_SKIP() << "SO_PEERPIDFD needs Linux >= 6.5 (the error is pinned above)";
  }
  auto carrier = socket_pair<seqpacket>::create();
  ASSERT_TRUE(carrier);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto made = socket_pair<stream>::create();
    auto sent = made ? send_with_fds(carrier.value().second, bytes_of("e"),
                                     {made.value().first.native_handle()})
                     : sockpair::result<std::size_t>(made.error());
    ::_exit(sent ? 0 : 1);
  }
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<1>(carrier.value().first, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 1U);
  auto end = sockpair::socket<stream>::adopt(std::move(got.value().fds[0]));
  ASSERT_TRUE(end) << end.error().message();
  // Before the child is reaped the kernel may still hand out its pidfd; afterwards the result
  // depends on the kernel (a pidfd of the dead process, or ESRCH/EINVAL): never another one.
  ASSERT_EQ(exit_status_of(child), 0);
  auto pidfd = sockpair::peer_pidfd(end.value());
  if (pidfd) {
    EXPECT_TRUE(has_exited(pidfd.value()));
    EXPECT_EQ(pid_of(pidfd.value()), -1);
  } else {
    EXPECT_TRUE(pidfd.error() == std::errc::no_such_process ||
                pidfd.error() == std::errc::invalid_argument)
        << pidfd.error().message();
  }
}

// ---- SO_PASSPIDFD / SCM_PIDFD --------------------------------------------------------------

template <class Type>
class SenderPidfd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
  }

  // Turns SO_PASSPIDFD on for `a`; false (with the clear error checked) before Linux 6.5.
  bool enable() {
    auto on = sockpair::set_receive_pidfd(a, true);
    if (!has_pidfds()) {
      EXPECT_FALSE(on);
      EXPECT_EQ(on.error(), errc::not_supported_by_kernel);
      return false;
    }
    EXPECT_TRUE(on) << on.error().message();
    return static_cast<bool>(on);
  }

  sockpair::socket<Type> a;
  sockpair::socket<Type> b;
};

using Types = ::testing::Types<stream, seqpacket, sockpair::dgram>;
TYPED_TEST_SUITE(SenderPidfd, Types);

TYPED_TEST(SenderPidfd, EachMessageNamesItsSenderApartFromTheInformationalPid) {
  if (!this->enable()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked)";
  }
  ASSERT_TRUE(sockpair::set_receive_credentials(this->a, true));
  auto go = make_pipe();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    go.write.reset();
    auto pipe = make_pipe();
    const bool sent = static_cast<bool>(send_with_fds(this->b, bytes_of("c"), {pipe.read.get()}));
    char byte = 0;
    static_cast<void>(::read(go.read.get(), &byte, 1));  // stays alive until told
    ::_exit(sent ? 0 : 1);
  }
  go.read.reset();
  std::array<std::byte, 4> buffer{};
  unique_fd sender;
  auto got = receive_with_fds<1>(this->a, buffer, {.sender_pidfd = &sender});
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().size, 1U);
  EXPECT_EQ(got.value().fds.size(), 1U);
  ASSERT_TRUE(sender) << "the pidfd the kernel attached is handed over, not closed";
  EXPECT_TRUE(has_cloexec(sender.get()));
  EXPECT_EQ(pid_of(sender), child);
  ASSERT_TRUE(got.value().credentials);
  EXPECT_EQ(got.value().credentials->pid, child);  // the number, for logs only
  EXPECT_FALSE(has_exited(sender));
  go.write.reset();  // the child exits
  ASSERT_EQ(exit_status_of(child), 0);
  EXPECT_TRUE(has_exited(sender)) << "the same process, even now that its pid is free";
  EXPECT_EQ(pid_of(sender), -1);
}

TYPED_TEST(SenderPidfd, IsEmptyWhenNotAskedForAndWhatItHeldIsClosed) {
  ASSERT_TRUE(this->b.send(bytes_of("n")));
  std::array<std::byte, 4> buffer{};
  auto pipe = make_pipe();
  const int held = pipe.read.get();
  unique_fd sender = std::move(pipe.read);
  auto got = receive_with_fds<1>(this->a, buffer, {.sender_pidfd = &sender});
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(sender);
  EXPECT_FALSE(sockpair::testing::is_open(held));
}

TYPED_TEST(SenderPidfd, IsClosedWhenTheCallerGivesNoPlaceForIt) {
  if (!this->enable()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked)";
  }
  const auto before = open_fds();
  ASSERT_TRUE(this->b.send(bytes_of("z")));
  std::array<std::byte, 4> buffer{};
  {
    auto got = receive_with_fds<1>(this->a, buffer);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got.value().size, 1U);
  }
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(SenderPidfd, ArrivesInEveryFormOfReceiveWithFds) {
  if (!this->enable()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked)";
  }
  auto pipe = make_pipe();
  std::array<std::byte, 4> buffer{};
  {
    ASSERT_TRUE(send_with_fds(this->b, bytes_of("s"), {pipe.read.get()}));
    std::array<unique_fd, 2> storage;
    unique_fd sender;
    auto got =
        receive_with_fds(this->a, buffer, std::span<unique_fd>(storage), {.sender_pidfd = &sender});
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got.value().fds.size(), 1U);
    ASSERT_TRUE(sender);
    EXPECT_EQ(pid_of(sender), ::getpid());
  }
  {
    ASSERT_TRUE(send_with_fds(this->b, bytes_of("v"), {pipe.read.get()}));
    unique_fd sender;
    auto got = receive_with_fds(this->a, buffer, {.sender_pidfd = &sender});
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got.value().fds.size(), 1U);
    ASSERT_TRUE(sender);
    EXPECT_EQ(pid_of(sender), ::getpid());
  }
}

TYPED_TEST(SenderPidfd, IsClosedWithTheDescriptorsWhenTheReceiveFails) {
  if (!this->enable()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked)";
  }
  auto pipe = make_pipe();
  const auto before = open_fds();
  ASSERT_TRUE(send_with_fds(this->b, bytes_of("t"), {pipe.read.get(), pipe.write.get()}));
  std::array<std::byte, 4> buffer{};
  unique_fd sender;
  {
    auto got = receive_with_fds<1>(this->a, buffer, {.sender_pidfd = &sender});
    ASSERT_FALSE(got) << "two came: room for one";
    EXPECT_EQ(got.error(), errc::control_truncated);
  }
  EXPECT_FALSE(sender);
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(SenderPidfd, TurningItOffStopsIt) {
  if (!this->enable()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked)";
  }
  ASSERT_TRUE(sockpair::set_receive_pidfd(this->a, false));
  ASSERT_TRUE(this->b.send(bytes_of("o")));
  std::array<std::byte, 4> buffer{};
  unique_fd sender;
  auto got = receive_with_fds<1>(this->a, buffer, {.sender_pidfd = &sender});
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(sender);
}

// A pidfd that arrives proves nothing about the descriptors before it: the kernel sets
// MSG_CTRUNC for descriptors it could not install (no free number), and a number freed by
// another thread a moment later is free for the pidfd it makes next. In a forked child (its
// limit and thread its own): the receiver sits at its RLIMIT_NOFILE while a second thread
// closes one descriptor during each receive of a message carrying two, and `receive` must
// report every loss: it returns 0, or 1 for descriptors lost unreported, 3 for another
// error. A race by nature, hence the two threads pinned to two CPUs: the library that trusted
// the pidfd lost it within 25 rounds in each of 20 runs here (2000 are tried, 200 in
// tools/vm); a correct library passes every round. Returns the child's status.
template <class Receive>
int receive_at_the_descriptor_limit(Receive receive) {
  const pid_t child = ::fork();
  if (child != 0) {
    return child < 0 ? -1 : exit_status_of(child);
  }
  ::alarm(120);  // a watchdog against hangs, not a timing
  auto pair = socket_pair<sockpair::dgram>::create();
  if (!pair || !sockpair::set_receive_pidfd(pair.value().second, true)) {
    ::_exit(2);
  }
  auto pipe = make_pipe();
  // UBSan's vptr check (the asan-ubsan configuration) makes a pipe(2) the first time it meets
  // an object's dynamic type, and a full descriptor table refuses it: a false "invalid vptr"
  // that ends the child. So the polymorphic calls the rounds make (error categories compared)
  // are made once before the table is filled, and the limit is restored before the closer
  // thread stops (its state, another dynamic type, is destroyed as it exits).
  volatile bool seen = false;
  for (const std::error_code& e :
       {std::error_code(errc::control_truncated), std::error_code(EAGAIN, std::system_category()),
        std::error_code(EAGAIN, std::generic_category())}) {
    seen = e == errc::control_truncated || e == errc::descriptors_discarded;
  }
  static_cast<void>(seen);
  rlimit original{};
  if (::getrlimit(RLIMIT_NOFILE, &original) != 0) {
    ::_exit(2);
  }
  rlimit limit = original;
  limit.rlim_cur = static_cast<rlim_t>(pipe.write.get()) + 8;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    ::_exit(2);
  }
  // The two threads on two CPUs where there are two (the race needs them to run at once).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::array<int, 2> cpus{-1, -1};
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int cpu = 0, found = 0; cpu < CPU_SETSIZE && found < 2; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) {
        cpus.at(static_cast<std::size_t>(found++)) = cpu;
      }
    }
  }
  const auto pin = [&](int cpu) {
    if (cpus[1] >= 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      static_cast<void>(::sched_setaffinity(0, sizeof one, &one));  // best effort
    }
  };
  pin(cpus[0]);
  std::atomic<int> victim{-1};  // -1: idle; -2: stop; else the descriptor to close
  std::atomic<unsigned> spin{0};
  std::thread closer([&] {
    pin(cpus[1]);
    unsigned idle = 0;
    for (int fd = victim.load(); fd != -2; fd = victim.load()) {
      if (fd == -1) {
        if (++idle % 4096 == 0) {
          std::this_thread::yield();  // (2 shared cores: a busy wait, but not a long one)
        }
      } else {
        idle = 0;
        for (unsigned i = spin.load(); i != 0; --i) {
          std::atomic_signal_fence(std::memory_order_seq_cst);  // a spin the compiler keeps
        }
        ::close(fd);
        victim.store(-1);
      }
    }
  });
  int status = 0;
  unsigned seed = 1;
  // Under tools/vm's emulation, where a round costs ~50x more, a tenth of the rounds.
  const int rounds = sockpair::testing::slow_machine() ? 200 : 2000;
  for (int round = 0; round < rounds && status == 0; ++round) {
    int last = -1;  // fill every free number below the limit
    for (int fd = ::dup(0); fd >= 0; fd = ::dup(0)) {
      last = fd;
    }
    if (last < 0 ||
        !send_with_fds(pair.value().first, bytes_of("r"), {pipe.read.get(), pipe.write.get()})) {
      status = 2;
      break;
    }
    seed = seed * 1103515245U + 12345U;
    spin.store((seed >> 16) % 4000);
    victim.store(last);  // closed while the receive runs, or just before or after it
    status = receive(pair.value().second);
    while (victim.load() != -1) {
      std::this_thread::yield();
    }
    if (status != 0) {
      std::fprintf(stderr, "round %d: status %d\n", round, status);
    }
  }
  if (::setrlimit(RLIMIT_NOFILE, &original) != 0 && status == 0) {
    status = 2;
  }
  victim.store(-2);
  closer.join();
  ::_exit(status);
}

TEST(SenderPidfdProof, DescriptorsCutWhileAPidfdStillArrivesAreReported) {
  if (!has_pidfds()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked above)";
  }
  const int status = receive_at_the_descriptor_limit([](sockpair::socket<sockpair::dgram>& end) {
    std::array<std::byte, 4> buffer{};
    auto got = receive_with_fds<2>(end, buffer);
    if (got) {
      return got.value().fds.size() == 2 ? 0 : 1;  // all, or an error
    }
    return got.error() == errc::control_truncated ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << "1: descriptors cut (MSG_CTRUNC) were taken for complete because a "
                          "pidfd arrived";
}

TEST(SenderPidfdProof, AReceiveThatTakesNoDescriptorsReportsThemCutToo) {
  if (!has_pidfds()) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5 (its error is checked above)";
  }
  const int status = receive_at_the_descriptor_limit([](sockpair::socket<sockpair::dgram>& end) {
    std::array<std::byte, 4> buffer{};
    auto got = end.receive(buffer);
    if (got) {
      return 1;  // two descriptors came with the message: never a plain success
    }
    return got.error() == errc::descriptors_discarded ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << "1: descriptors cut (MSG_CTRUNC) went unreported because a pidfd "
                          "arrived";
}

// A call refused before recvmsg(2) (an empty buffer on a stream) is a failure too: what the
// slot held is closed and it ends empty, as after any other failure.
TEST(SenderPidfdSlot, IsEmptyAfterAStreamReceiveRefusesAnEmptyBuffer) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  auto pipe = make_pipe();
  const int held = pipe.read.get();
  unique_fd sender = std::move(pipe.read);
  std::array<std::byte, 0> nothing{};
  auto got = receive_with_fds<1>(pair.value().first, nothing, {.sender_pidfd = &sender});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::invalid_argument) << got.error().message();
  EXPECT_FALSE(sender) << "a stale descriptor is left in the slot after a failure";
  EXPECT_FALSE(sockpair::testing::is_open(held));
}

// ---- SO_PASSRIGHTS: refusing descriptors ----------------------------------------------------

template <class Type>
using RefusingDescriptors = SenderPidfd<Type>;
TYPED_TEST_SUITE(RefusingDescriptors, Types);

TYPED_TEST(RefusingDescriptors, TheSenderSeesEpermAndPlainBytesStillFlow) {
  auto off = sockpair::set_accept_descriptors(this->a, false);
  if (!kernel_at_least(6, 16)) {
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error(), errc::not_supported_by_kernel);
    GTEST_SKIP() << "SO_PASSRIGHTS needs Linux >= 6.16 (its error is checked)";
  }
  ASSERT_TRUE(off) << off.error().message();
  auto pipe = make_pipe();
  const auto before = open_fds();
  auto refused = send_with_fds(this->b, bytes_of("r"), {pipe.read});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::operation_not_permitted);
  ASSERT_TRUE(this->b.send(bytes_of("plain")));
  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().size, 5U) << "only the plain message: the refused one never queued";
  EXPECT_TRUE(got.value().fds.empty());
  EXPECT_EQ(open_fds(), before);
  // The other direction is not affected: the refusing end may still send descriptors.
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("o"), {pipe.read}));
  auto back = receive_with_fds<1>(this->b, buffer);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back.value().fds.size(), 1U);
}

TYPED_TEST(RefusingDescriptors, AcceptingAgainLetsThemThrough) {
  if (!kernel_at_least(6, 16)) {
    GTEST_SKIP() << "SO_PASSRIGHTS needs Linux >= 6.16 (its error is checked above)";
  }
  ASSERT_TRUE(sockpair::set_accept_descriptors(this->a, false));
  ASSERT_TRUE(sockpair::set_accept_descriptors(this->a, true));
  auto pipe = make_pipe();
  ASSERT_TRUE(send_with_fds(this->b, bytes_of("a"), {pipe.read}));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().fds.size(), 1U);
}

}  // namespace
