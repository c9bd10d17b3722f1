// Faults from the real kernel, and what the library's caller gets for each: descriptor
// exhaustion (EMFILE, set up with setrlimit), full buffers (EAGAIN), a peer killed with
// SIGKILL in the middle of a message, a connection reset (ECONNRESET), and writes after
// shutdown (EPIPE, never SIGPIPE). Every test also runs under the fd-check main, which fails
// it if a descriptor is left open.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/reliability/harness.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::dgram;
using sockpair::errc;
using sockpair::seqpacket;
using sockpair::shutdown_how;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::reliability::descriptor_limit;
using sockpair::reliability::fill_pattern;
using sockpair::reliability::first_mismatch;
using sockpair::reliability::kib;
using sockpair::reliability::lowest_free_descriptor;
using sockpair::testing::open_fds;

std::span<const std::byte> bytes(const char* text) {
  return std::as_bytes(std::span(text, std::strlen(text)));
}

// The pipe ends `pipe2` makes, owned.
struct pipe_pair {
  unique_fd read;
  unique_fd write;
};

pipe_pair make_pipe() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// Descriptors that can still be created below the current limit: the test relies on every
// number from `lowest_free_descriptor()` up to the limit being free.
bool only_free_numbers_between(int low, int limit) {
  const std::set<int> open = open_fds();
  for (int fd = low; fd < limit; ++fd) {
    if (open.count(fd) != 0) {
      return false;
    }
  }
  return true;
}

// ---- EMFILE: creating a pair ------------------------------------------------------------------
//
// While the limit is lowered these tests only call the library and keep its results; every
// check runs after the limit is lifted. open_fds() needs a descriptor of its own, and so does
// UBSan: its vptr check (a virtual call such as comparing an error_code with std::errc)
// probes memory through pipe(2), and without a free descriptor it reports a false
// "invalid vptr".

template <class Type>
class EmfileOnCreate : public ::testing::Test {};
using UnixTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(EmfileOnCreate, UnixTypes);

TYPED_TEST(EmfileOnCreate, FailsWithEmfileAndOpensNothingWhenNoDescriptorIsFree) {
  const std::set<int> before = open_fds();
  const int low = lowest_free_descriptor();
  std::error_code error;
  {
    descriptor_limit limit(static_cast<rlim_t>(low));
    ASSERT_TRUE(limit.ok());
    auto pair = socket_pair<TypeParam>::create();
    ASSERT_FALSE(pair);
    error = pair.error();
  }
  EXPECT_EQ(error, std::errc::too_many_files_open) << error.message();
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(socket_pair<TypeParam>::create()) << "the limit is back: creating works again";
}

TYPED_TEST(EmfileOnCreate, FailsWithEmfileAndLeavesNoHalfPairWhenOneDescriptorIsFree) {
  const std::set<int> before = open_fds();
  const int low = lowest_free_descriptor();
  std::error_code error;
  ASSERT_TRUE(only_free_numbers_between(low, low + 1));
  {
    descriptor_limit limit(static_cast<rlim_t>(low + 1));
    ASSERT_TRUE(limit.ok());
    auto pair = socket_pair<TypeParam>::create();
    ASSERT_FALSE(pair);
    error = pair.error();
  }
  EXPECT_EQ(error, std::errc::too_many_files_open) << error.message();
  EXPECT_EQ(open_fds(), before) << "socketpair(2) is all or nothing";
}

TYPED_TEST(EmfileOnCreate, SucceedsWithExactlyTwoDescriptorsFree) {
  const int low = lowest_free_descriptor();
  ASSERT_TRUE(only_free_numbers_between(low, low + 2));
  descriptor_limit limit(static_cast<rlim_t>(low + 2));
  ASSERT_TRUE(limit.ok());
  auto pair = socket_pair<TypeParam>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  EXPECT_EQ(pair.value().first.native_handle(), low);
  EXPECT_EQ(pair.value().second.native_handle(), low + 1);
}

// ---- EMFILE: receiving descriptors -------------------------------------------------------------

// Sends one byte with `count` copies of `fd` on a seqpacket socket, with raw sendmsg(2).
void send_copies(int sock, int fd, std::size_t count) {
  std::vector<int> fds(count, fd);
  std::vector<std::byte> control(CMSG_SPACE(count * sizeof(int)));
  char byte = 'x';
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* header = CMSG_FIRSTHDR(&msg);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(count * sizeof(int));
  std::memcpy(CMSG_DATA(header), fds.data(), count * sizeof(int));
  ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), 1) << std::system_category().message(errno);
}

TEST(EmfileOnReceive, KernelInstallsWhatFitsSetsCtruncAndReleasesTheRest) {
  // Pins Linux's behaviour, with raw syscalls: at RLIMIT_NOFILE, recvmsg(2) still succeeds
  // and returns the data; it installs as many descriptors as the limit allows, sets
  // MSG_CTRUNC, and drops the others (the kernel releases its references to their files).
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  auto pipe = make_pipe();
  send_copies(out.native_handle(), pipe.write.get(), 10);
  pipe.write.reset();  // from now on only the copies in flight hold the write end

  const int low = lowest_free_descriptor();
  std::array<std::byte, CMSG_SPACE(10 * sizeof(int))> control{};
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t got = 0;
  {
    ASSERT_TRUE(only_free_numbers_between(low, low + 3));
    descriptor_limit limit(static_cast<rlim_t>(low + 3));  // room for 3 of the 10
    ASSERT_TRUE(limit.ok());
    got = ::recvmsg(in.native_handle(), &msg, MSG_CMSG_CLOEXEC);
  }
  ASSERT_EQ(got, 1) << std::system_category().message(errno);
  EXPECT_EQ(byte, 'x');
  EXPECT_NE(msg.msg_flags & MSG_CTRUNC, 0);
  cmsghdr* header = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(header, nullptr);
  ASSERT_EQ(header->cmsg_type, SCM_RIGHTS);
  const std::size_t installed = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  EXPECT_EQ(installed, 3U);
  std::vector<int> fds(installed);
  std::memcpy(fds.data(), CMSG_DATA(header), installed * sizeof(int));
  for (std::size_t i = 0; i < installed; ++i) {
    EXPECT_EQ(fds[i], low + static_cast<int>(i));
    ::close(fds[i]);
  }
  // Every reference to the pipe's write end is gone, the 7 dropped ones included: EOF.
  char end = 0;
  EXPECT_EQ(::read(pipe.read.get(), &end, 1), 0);
}

TEST(EmfileOnReceive, KernelSetsCtruncAndInstallsNothingWhenNoDescriptorIsFree) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  auto pipe = make_pipe();
  send_copies(out.native_handle(), pipe.write.get(), 4);
  pipe.write.reset();
  std::array<std::byte, CMSG_SPACE(4 * sizeof(int))> control{};
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t got = 0;
  {
    descriptor_limit limit(static_cast<rlim_t>(lowest_free_descriptor()));
    ASSERT_TRUE(limit.ok());
    got = ::recvmsg(in.native_handle(), &msg, MSG_CMSG_CLOEXEC);
  }
  ASSERT_EQ(got, 1);
  EXPECT_NE(msg.msg_flags & MSG_CTRUNC, 0);
  EXPECT_EQ(msg.msg_controllen, 0U) << "no control message at all";
  char end = 0;
  EXPECT_EQ(::read(pipe.read.get(), &end, 1), 0);
}

TEST(EmfileOnReceive, LibraryReportsControlTruncatedAndClosesWhatArrived) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  auto pipe = make_pipe();
  const std::array<int, 8> eight = {pipe.write.get(), pipe.write.get(), pipe.write.get(),
                                    pipe.write.get(), pipe.write.get(), pipe.write.get(),
                                    pipe.write.get(), pipe.write.get()};
  ASSERT_TRUE(sockpair::send_with_fds(out, bytes("first"), std::span<const int>(eight)));
  ASSERT_TRUE(sockpair::send_with_fds(out, bytes("second"), {pipe.write.get()}));
  pipe.write.reset();

  const std::set<int> before = open_fds();
  const int low = lowest_free_descriptor();
  std::array<std::byte, 16> buffer{};
  std::error_code error;
  ASSERT_TRUE(only_free_numbers_between(low, low + 2));
  {
    descriptor_limit limit(static_cast<rlim_t>(low + 2));  // 2 of the 8 fit
    ASSERT_TRUE(limit.ok());
    auto got = sockpair::receive_with_fds<8>(in, buffer);
    ASSERT_FALSE(got);
    error = got.error();
  }
  EXPECT_EQ(error, errc::control_truncated) << error.message();
  EXPECT_EQ(open_fds(), before) << "the 2 that arrived were closed";
  // The message that failed is consumed; the next one arrives whole, with its descriptor.
  auto next = sockpair::receive_with_fds<8>(in, buffer);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), next.value().size), "second");
  ASSERT_EQ(next.value().fds.size(), 1U);
  next.value().fds.clear();
  char end = 0;
  EXPECT_EQ(::read(pipe.read.get(), &end, 1), 0) << "no copy of the write end survives";
}

TEST(EmfileOnReceive, LibraryReportsControlTruncatedWhenNoDescriptorIsFree) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  auto pipe = make_pipe();
  ASSERT_TRUE(sockpair::send_with_fds(out, bytes("x"), {pipe.write.get(), pipe.read.get()}));
  const std::set<int> before = open_fds();
  std::array<std::byte, 1> buffer{};
  std::array<unique_fd, 4> storage;
  std::error_code error;
  {
    descriptor_limit limit(static_cast<rlim_t>(lowest_free_descriptor()));
    ASSERT_TRUE(limit.ok());
    auto got = sockpair::receive_with_fds(in, buffer, std::span<unique_fd>(storage));
    ASSERT_FALSE(got);
    error = got.error();
  }
  EXPECT_EQ(error, errc::control_truncated) << error.message();
  EXPECT_EQ(open_fds(), before);
}

TEST(EmfileOnReceive, VectorOverloadReportsControlTruncatedAndKeepsNothing) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  auto pipe = make_pipe();
  const std::vector<int> five(5, pipe.write.get());
  ASSERT_TRUE(sockpair::send_with_fds(out, bytes("five"), std::span<const int>(five)));
  pipe.write.reset();
  const std::set<int> before = open_fds();
  const int low = lowest_free_descriptor();
  ASSERT_TRUE(only_free_numbers_between(low, low + 4));
  std::array<std::byte, 8> buffer{};
  std::error_code error;
  {
    descriptor_limit limit(static_cast<rlim_t>(low + 4));  // 4 of the 5 fit
    ASSERT_TRUE(limit.ok());
    auto got = sockpair::receive_with_fds(in, buffer);  // into a std::vector
    ASSERT_FALSE(got);
    error = got.error();
  }
  EXPECT_EQ(error, errc::control_truncated) << error.message();
  EXPECT_EQ(open_fds(), before);
  char end = 0;
  EXPECT_EQ(::read(pipe.read.get(), &end, 1), 0) << "no copy of the write end survives";
}

// ---- EAGAIN: full buffers ---------------------------------------------------------------------

TEST(FullBuffers, StreamSendAllStopsWithWouldBlockAndResumesWithoutLosingAByte) {
  auto pair = socket_pair<stream>::create({.nonblocking = true});
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const std::uint64_t seed = 41;
  std::vector<std::byte> data(8 << 20);  // far more than a socket buffer holds
  fill_pattern(seed, 0, data);
  std::vector<std::byte> received(data.size());
  sockpair::outgoing transfer(data);
  std::size_t got = 0;
  int would_block = 0;
  while (got < data.size()) {
    auto r = out.send_all(transfer);
    if (!r) {
      ASSERT_EQ(r.error(), std::errc::operation_would_block) << r.error().message();
      ++would_block;
    }
    const std::size_t sent = transfer.done();
    ASSERT_LE(got, sent);
    // Drain everything queued, then check the drain found exactly what `sent` claims.
    while (got < received.size()) {
      auto n = in.receive(std::span(received).subspan(got));
      if (!n) {
        ASSERT_EQ(n.error(), std::errc::operation_would_block);
        break;
      }
      ASSERT_GT(n.value(), 0U);
      got += n.value();
    }
    ASSERT_EQ(got, sent) << "`done()` must count exactly the bytes the kernel took";
  }
  EXPECT_GT(would_block, 0) << "the buffer never filled: the test proved nothing";
  EXPECT_EQ(first_mismatch(seed, 0, received), received.size());
}

TEST(FullBuffers, SeqpacketSendFailsWithWouldBlockAndSendsNothingOfThatMessage) {
  auto pair = socket_pair<seqpacket>::create({.nonblocking = true});
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  std::array<std::byte, 4096> message{};
  std::uint32_t sent = 0;
  for (;;) {
    std::memcpy(message.data(), &sent, sizeof sent);
    auto r = out.send(message);
    if (!r) {
      ASSERT_EQ(r.error(), std::errc::operation_would_block) << r.error().message();
      break;
    }
    ASSERT_EQ(r.value(), message.size());
    ++sent;
  }
  ASSERT_GT(sent, 0U);
  std::array<std::byte, 8192> buffer{};
  std::uint32_t got = 0;
  for (;;) {
    auto r = in.receive(buffer);
    if (!r) {
      ASSERT_EQ(r.error(), std::errc::operation_would_block);
      break;
    }
    ASSERT_EQ(r.value(), message.size()) << "every message whole";
    std::uint32_t index = 0;
    std::memcpy(&index, buffer.data(), sizeof index);
    ASSERT_EQ(index, got) << "in order, none twice";
    ++got;
  }
  EXPECT_EQ(got, sent) << "the refused message was not half-sent";
}

TEST(FullBuffers, ReceiveOnAnEmptyNonBlockingSocketFailsWithWouldBlock) {
  auto pair = socket_pair<stream>::create({.nonblocking = true});
  ASSERT_TRUE(pair);
  std::array<std::byte, 8> buffer{};
  auto r = pair.value().first.receive(buffer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::operation_would_block);
  sockpair::incoming progress(buffer);
  auto exact = pair.value().first.receive_exact(progress);
  const std::size_t done = progress.done();
  ASSERT_FALSE(exact);
  EXPECT_EQ(exact.error(), std::errc::operation_would_block);
  EXPECT_EQ(done, 0U);
}

// ---- SIGKILL mid-message -----------------------------------------------------------------------

// Forks a child that runs `body` (raw syscalls only) and then waits to be killed.
template <class Body>
pid_t fork_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    for (;;) {
      ::pause();
    }
  }
  return pid;
}

// Kills `pid` with SIGKILL and reaps it; true when it died of that signal.
bool kill_and_reap(pid_t pid) {
  if (::kill(pid, SIGKILL) != 0) {
    return false;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    return false;
  }
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// Waits until `fd` has at least `bytes` queued for reading (FIONREAD).
bool wait_for_queued(int fd, std::size_t bytes) {
  for (int i = 0; i < 100000; ++i) {
    int queued = 0;
    if (::ioctl(fd, FIONREAD, &queued) != 0) {
      return false;
    }
    if (static_cast<std::size_t>(queued) >= bytes) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return false;
}

TEST(PeerKilled, StreamReceiveExactGetsThePrefixThenUnexpectedEof) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& parent = pair.value().first;
  auto& child = pair.value().second;
  const std::uint64_t seed = 7;
  constexpr std::size_t message = 1 << 20;
  constexpr std::size_t before_death = 100'000 - 100'000 % 8;
  std::vector<std::byte> data(message);
  fill_pattern(seed, 0, data);

  const pid_t pid =
      fork_child([&] { ::send(child.native_handle(), data.data(), before_death, MSG_NOSIGNAL); });
  ASSERT_GT(pid, 0);
  static_cast<void>(child.close());
  ASSERT_TRUE(wait_for_queued(parent.native_handle(), before_death));
  ASSERT_TRUE(kill_and_reap(pid));

  std::vector<std::byte> received(message);
  sockpair::incoming progress(received);
  auto r = parent.receive_exact(progress);
  const std::size_t done = progress.done();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unexpected_eof) << r.error().message();
  EXPECT_EQ(done, before_death) << "exactly the bytes the peer sent before it died";
  EXPECT_EQ(first_mismatch(seed, 0, std::span(received).first(done)), done);
}

TEST(PeerKilled, StreamPeerKilledWhileBlockedInSendLeavesOnlyWhatWasQueued) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& parent = pair.value().first;
  auto& child = pair.value().second;
  const std::uint64_t seed = 8;
  std::vector<std::byte> data(16 << 20);  // far more than the buffers hold: the child blocks
  fill_pattern(seed, 0, data);
  const pid_t pid =
      fork_child([&] { ::send(child.native_handle(), data.data(), data.size(), MSG_NOSIGNAL); });
  ASSERT_GT(pid, 0);
  static_cast<void>(child.close());
  ASSERT_TRUE(wait_for_queued(parent.native_handle(), 64 * kib));
  ASSERT_TRUE(kill_and_reap(pid));

  std::vector<std::byte> received(data.size());
  sockpair::incoming progress(received);
  auto r = parent.receive_exact(progress);
  const std::size_t done = progress.done();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unexpected_eof);
  EXPECT_GT(done, 0U);
  EXPECT_LT(done, data.size());
  // Every byte that arrived is the right one, in order; nothing after the gap.
  const std::size_t whole = done - done % 8;
  EXPECT_EQ(first_mismatch(seed, 0, std::span(received).first(whole)), whole);
  EXPECT_EQ(std::memcmp(received.data(), data.data(), done), 0);
}

TEST(PeerKilled, SeqpacketDeliversWholeMessagesThenTheEndNeverAFragment) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& parent = pair.value().first;
  auto& child = pair.value().second;
  ASSERT_TRUE(child.set_send_buffer_size(256 * kib));
  // 300 KiB messages: the first fits, the second waits for room that never comes.
  std::vector<std::byte> first(300 * kib);
  std::vector<std::byte> second(300 * kib);
  fill_pattern(1, 0, first);
  fill_pattern(2, 0, second);
  const pid_t pid = fork_child([&] {
    ::send(child.native_handle(), first.data(), first.size(), MSG_NOSIGNAL);
    ::send(child.native_handle(), second.data(), second.size(), MSG_NOSIGNAL);
  });
  ASSERT_GT(pid, 0);
  static_cast<void>(child.close());
  ASSERT_TRUE(wait_for_queued(parent.native_handle(), first.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it block in send
  ASSERT_TRUE(kill_and_reap(pid));

  std::vector<std::byte> buffer(512 * kib);
  std::vector<std::size_t> sizes;
  for (;;) {
    auto r = parent.receive_message(buffer);
    ASSERT_TRUE(r) << r.error().message();
    if (r.value().end_of_stream) {
      break;
    }
    ASSERT_FALSE(r.value().truncated());
    sizes.push_back(r.value().size);
    const auto& expected = sizes.size() == 1 ? first : second;
    ASSERT_EQ(r.value().size, expected.size()) << "a message arrives whole or not at all";
    EXPECT_EQ(std::memcmp(buffer.data(), expected.data(), expected.size()), 0);
  }
  ASSERT_GE(sizes.size(), 1U);
  ASSERT_LE(sizes.size(), 2U);
}

// ---- ECONNRESET --------------------------------------------------------------------------------

TEST(ConnectionReset, StreamReceiveReportsResetOnceThenEof) {
  // Linux: closing a stream or seqpacket end that still has unread data resets the
  // connection; the other end's next receive fails with ECONNRESET, later ones see EOF.
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(a.send_all(bytes("unread by b")));
  ASSERT_TRUE(b.close());
  std::array<std::byte, 32> buffer{};
  auto first = a.receive(buffer);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error(), std::errc::connection_reset) << first.error().message();
  auto second = a.receive(buffer);
  ASSERT_TRUE(second);
  EXPECT_EQ(second.value(), 0U);
  auto sent = a.send(bytes("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

TEST(ConnectionReset, ReceiveExactReportsTheResetNotAnEof) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(a.send_all(bytes("unread")));
  ASSERT_TRUE(b.close());
  std::array<std::byte, 32> buffer{};
  sockpair::incoming progress(buffer);
  auto r = a.receive_exact(progress);
  const std::size_t done = progress.done();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_reset);
  EXPECT_EQ(done, 0U);
}

TEST(ConnectionReset, SeqpacketReportsResetThenEndOfStream) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(a.send(bytes("unread by b")));
  ASSERT_TRUE(b.close());
  std::array<std::byte, 32> buffer{};
  auto first = a.receive_message(buffer);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error(), std::errc::connection_reset);
  auto second = a.receive_message(buffer);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_TRUE(second.value().end_of_stream);
}

// ---- Writes after shutdown: EPIPE, never SIGPIPE ----------------------------------------------

// Runs `body` with SIGPIPE blocked in this thread and returns true if a SIGPIPE became
// pending meanwhile (it is then consumed, so nothing is delivered later).
template <class Body>
bool raises_sigpipe(Body body) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t saved;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &saved);
  body();
  sigset_t pending;
  sigpending(&pending);
  const bool raised = sigismember(&pending, SIGPIPE) == 1;
  if (raised) {
    const timespec zero{0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return raised;
}

TEST(SigpipeDetector, SeesTheSignalAPlainSendRaises) {
  // The detector works: the kernel does raise SIGPIPE for a plain send(2).
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  ASSERT_TRUE(pair.value().first.shutdown(shutdown_how::write));
  EXPECT_TRUE(raises_sigpipe([&] { ::send(pair.value().first.native_handle(), "x", 1, 0); }));
}

template <class Type>
class WriteAfterShutdown : public ::testing::Test {};
TYPED_TEST_SUITE(WriteAfterShutdown, UnixTypes);

TYPED_TEST(WriteAfterShutdown, OwnWriteSideShutFailsWithEpipeAndNoSigpipe) {
  auto pair = socket_pair<TypeParam>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  ASSERT_TRUE(a.shutdown(shutdown_how::write));
  sockpair::result<std::size_t> sent = std::size_t{0};
  EXPECT_FALSE(raises_sigpipe([&] { sent = a.send(bytes("after shutdown")); }));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

TYPED_TEST(WriteAfterShutdown, PeerReadSideShutFailsWithEpipeAndNoSigpipe) {
  auto pair = socket_pair<TypeParam>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(b.shutdown(shutdown_how::read));
  sockpair::result<std::size_t> sent = std::size_t{0};
  EXPECT_FALSE(raises_sigpipe([&] { sent = a.send(bytes("nobody reads")); }));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

TEST(WriteToAClosedPeer, StreamFailsEveryWriteFormWithEpipeAndNoSigpipe) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(b.close());
  const std::array<std::byte, 4> data{};
  const std::array<std::span<const std::byte>, 2> gather = {std::span(data), std::span(data)};
  auto pipe = make_pipe();
  bool raised = raises_sigpipe([&] {
    EXPECT_EQ(a.send(data).error(), std::errc::broken_pipe);
    sockpair::outgoing progress(data);
    EXPECT_EQ(a.send_all(progress).error(), std::errc::broken_pipe);
    const std::size_t done = progress.done();
    EXPECT_EQ(done, 0U);
    EXPECT_EQ(a.send(std::span<const std::span<const std::byte>>(gather)).error(),
              std::errc::broken_pipe);
    EXPECT_EQ(sockpair::send_with_fds(a, data, {pipe.read.get()}).error(), std::errc::broken_pipe);
  });
  EXPECT_FALSE(raised);
}

TEST(WriteToAClosedPeer, DgramFailsWithConnectionRefused) {
  // AF_UNIX datagram pairs report a closed peer as ECONNREFUSED, not EPIPE.
  auto pair = socket_pair<dgram>::create();
  ASSERT_TRUE(pair);
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  ASSERT_TRUE(b.close());
  auto sent = a.send(bytes("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::connection_refused);
}

}  // namespace
