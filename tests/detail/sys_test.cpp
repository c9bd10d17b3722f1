// detail/sys.hpp: the system calls on the hot paths, made directly on x86-64 Linux (no libc
// wrapper, so no cancellation point and no errno) and through libc elsewhere and under a
// sanitizer. Pinned here: every call answers in the kernel's convention (a count, or -errno),
// whichever way it is made; the direct path leaves errno alone and is the one taken on x86-64
// without a sanitizer; a signal interrupts a blocking call with -EINTR (restarting is the
// caller's job, detail/syscall.hpp). What the library builds on these is pinned by the I/O
// suites (tests/io, tests/ancillary), which run on both paths in CI.
#include <socketpair/detail/sys.hpp>

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

namespace sockpair::detail {
namespace {

struct raw_pair {
  raw_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()), 0); }
  raw_pair(const raw_pair&) = delete;
  raw_pair& operator=(const raw_pair&) = delete;
  ~raw_pair() {
    for (const int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
  std::array<int, 2> fds{-1, -1};
};

TEST(Sys, DirectExactlyOnX86_64LinuxWithoutASanitizer) {
#if defined(__x86_64__) && defined(__linux__) && !defined(SOCKPAIR_DETAIL_SANITIZED)
  EXPECT_TRUE(sys::direct);
#else
  EXPECT_FALSE(sys::direct);
#endif
}

TEST(Sys, FailuresComeBackAsMinusErrnoAndOnlyLibcTouchesErrno) {
  constexpr int untouched = 12345;
  const std::byte byte{'x'};
  errno = untouched;
  EXPECT_EQ(sys::send(-1, &byte, 1, MSG_NOSIGNAL), -EBADF);
  // The direct path never writes errno; libc's wrapper does.
  EXPECT_EQ(errno == untouched, sys::direct);
  errno = untouched;
  std::byte into{};
  EXPECT_EQ(sys::recv(-1, &into, 1, 0), -EBADF);
  msghdr msg{};
  EXPECT_EQ(sys::sendmsg(-1, &msg, MSG_NOSIGNAL), -EBADF);
  EXPECT_EQ(sys::recvmsg(-1, &msg, 0), -EBADF);
  EXPECT_EQ(sys::close(-1), -EBADF);
  EXPECT_EQ(errno == untouched, sys::direct);
}

TEST(Sys, EachCallMovesBytesAndReturnsTheCount) {
  raw_pair p;
  const std::array<char, 5> hello{'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(sys::send(p.fds[0], hello.data(), hello.size(), MSG_NOSIGNAL), 5);
  std::array<char, 8> got{};
  EXPECT_EQ(sys::recv(p.fds[1], got.data(), got.size(), 0), 5);
  EXPECT_EQ(std::memcmp(got.data(), hello.data(), 5), 0);

  iovec out{const_cast<char*>(hello.data()), 3};
  msghdr send_msg{};
  send_msg.msg_iov = &out;
  send_msg.msg_iovlen = 1;
  EXPECT_EQ(sys::sendmsg(p.fds[1], &send_msg, MSG_NOSIGNAL), 3);
  iovec in{got.data(), got.size()};
  msghdr receive_msg{};
  receive_msg.msg_iov = &in;
  receive_msg.msg_iovlen = 1;
  EXPECT_EQ(sys::recvmsg(p.fds[0], &receive_msg, MSG_DONTWAIT), 3);
  EXPECT_EQ(sys::recvmsg(p.fds[0], &receive_msg, MSG_DONTWAIT), -EAGAIN);
  EXPECT_EQ(sys::recv(p.fds[0], got.data(), got.size(), MSG_DONTWAIT), -EAGAIN);
}

TEST(Sys, CloseClosesOnceThenEbadf) {
  raw_pair p;
  EXPECT_EQ(sys::close(p.fds[0]), 0);
  EXPECT_EQ(sys::close(p.fds[0]), -EBADF);
  p.fds[0] = -1;
  // The peer sees the end of the stream.
  char c = 0;
  EXPECT_EQ(sys::recv(p.fds[1], &c, 1, 0), 0);
}

std::atomic<int> interruptions{0};
void count_interruption(int /*signal*/) { interruptions.fetch_add(1); }

TEST(Sys, ASignalInterruptsABlockingReceiveWithMinusEintr) {
  struct sigaction action {};
  action.sa_handler = count_interruption;  // no SA_RESTART: the call must come back
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  raw_pair p;
  std::atomic<bool> returned{false};
  const pthread_t receiver = ::pthread_self();
  // Signals until the receive has come back: the first may land before it blocks.
  std::thread signaller([&] {
    while (!returned.load()) {
      ::pthread_kill(receiver, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  char c = 0;
  long rc = 0;
  do {
    rc = sys::recv(p.fds[1], &c, 1, 0);  // nothing is ever sent: only a signal ends it
  } while (rc == -EINTR && interruptions.load() == 0);
  returned.store(true);
  signaller.join();
  EXPECT_EQ(rc, -EINTR);
  EXPECT_GE(interruptions.load(), 1);
  ASSERT_EQ(::sigaction(SIGUSR1, &previous, nullptr), 0);
}

}  // namespace
}  // namespace sockpair::detail
