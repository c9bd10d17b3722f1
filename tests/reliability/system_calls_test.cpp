// The system calls behind each call, pinned with seccomp (tests/support/seccomp.hpp) in a
// forked child. docs/reference.md promises "one system call, blocking as the descriptor is"
// for each I/O call unless its entry says otherwise, and no hidden fcntl(2) or poll(2):
// - a filter that kills the process on fcntl, poll, ppoll, select, pselect6 and the epoll
//   waits (and on getsockopt/setsockopt/ioctl of the socket) lets blocking send_all,
//   receive_exact, send, receive, send_with_fds and receive_with_fds run megabytes through a
//   peer that reads and writes slowly, and the child survives; a control child calling
//   wait_readable (poll) or set_nonblocking (fcntl) under the same filter dies of SIGSYS;
// - a filter that stops every call on the socket (and every poll) and lets it through
//   records, call by call, exactly which system calls each library call made.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/reliability/harness.hpp"
#include "tests/support/seccomp.hpp"

namespace {

namespace sc = sockpair::testing::seccomp;
using sockpair::seqpacket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::reliability::fill_pattern;
using sockpair::reliability::first_mismatch;
using sockpair::reliability::kib;

// Kills the process on any wait for readiness, and on any descriptor or socket option call
// on `fd`.
sc::filter no_hidden_calls(int fd) {
  sc::filter f;
  for (const long nr : {long{SYS_poll}, long{SYS_ppoll}, long{SYS_select}, long{SYS_pselect6},
                        long{SYS_epoll_wait}, long{SYS_epoll_pwait}, long{SYS_epoll_pwait2}}) {
    f.kill(nr);
  }
  for (const long nr :
       {long{SYS_fcntl}, long{SYS_getsockopt}, long{SYS_setsockopt}, long{SYS_ioctl}}) {
    f.kill(nr, {sc::arg_equals(0, fd)});
  }
  return f;
}

constexpr std::size_t transfer = 4 * kib * kib;  // many times the socket buffer

// The peer: a process of its own (forked before the filter), reading `transfer` bytes in
// small pieces, so the sender blocks again and again, then writing them back the same way,
// then exchanging one byte with a descriptor. Exits 0 when all matched.
[[noreturn]] void slow_echo_peer(int fd) {
  std::vector<std::byte> data(transfer);
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n =
        ::recv(fd, data.data() + got, std::min<std::size_t>(4 * kib, transfer - got), 0);
    if (n <= 0) {
      ::_exit(10);
    }
    got += static_cast<std::size_t>(n);
  }
  if (first_mismatch(9, 0, data) != data.size()) {
    ::_exit(11);
  }
  for (std::size_t sent = 0; sent < data.size();) {
    const ssize_t n = ::send(fd, data.data() + sent,
                             std::min<std::size_t>(4 * kib, transfer - sent), MSG_NOSIGNAL);
    if (n <= 0) {
      ::_exit(12);
    }
    sent += static_cast<std::size_t>(n);
  }
  // One byte with a descriptor from the child (raw recvmsg), echoed back with it.
  std::array<char, 1> byte{};
  iovec iov{byte.data(), byte.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) != 1 || ::sendmsg(fd, &msg, MSG_NOSIGNAL) != 1) {
    ::_exit(13);
  }
  ::_exit(0);
}

TEST(NoHiddenSystemCalls, BlockingTransfersMakeNoFcntlPollOrSocketOptionCall) {
  const auto report = sc::run_in_child([](sc::child_context& child) -> std::string {
    auto pair = socket_pair<stream>::create();
    if (!pair) {
      return "create";
    }
    auto& [a, b] = pair.value();
    const pid_t peer = ::fork();
    if (peer == 0) {
      static_cast<void>(a.close());
      slow_echo_peer(b.native_handle());
    }
    static_cast<void>(b.close());
    std::vector<std::byte> data(transfer);
    fill_pattern(9, 0, data);
    std::vector<std::byte> back(transfer);
    const unique_fd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!child.install(no_hidden_calls(a.native_handle()))) {
      return "install";
    }
    std::string failures;
    // Half through send_all, the rest through single sends (each may be short).
    sockpair::outgoing first_half(std::span<const std::byte>(data).first(transfer / 2));
    if (!a.send_all(first_half)) {
      failures += "send_all; ";
    }
    std::size_t done = first_half.done();
    while (done < transfer) {
      auto n = a.send(std::span<const std::byte>(data).subspan(done));
      if (!n) {
        failures += "send; ";
        break;
      }
      done += n.value();
    }
    // A quarter through receives, the rest through receive_exact.
    std::size_t in = 0;
    while (in < transfer / 4) {
      auto n = a.receive(std::span<std::byte>(back).subspan(in, transfer / 4 - in));
      if (!n || n.value() == 0) {
        failures += "receive; ";
        break;
      }
      in += n.value();
    }
    if (!a.receive_exact(std::span<std::byte>(back).subspan(in))) {
      failures += "receive_exact; ";
    }
    if (back != data) {
      failures += "echo differs; ";
    }
    if (!sockpair::send_with_fds(a, std::string_view("x"), {file.get()})) {
      failures += "send_with_fds; ";
    }
    std::array<char, 1> byte{};
    auto got = sockpair::receive_with_fds<1>(a, byte);
    if (!got || got.value().fds.size() != 1) {
      failures += "receive_with_fds; ";
    }
    int status = 0;
    while (::waitpid(peer, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failures += "peer status " + std::to_string(status);
    }
    return failures;
  });
  EXPECT_TRUE(report.passed()) << report.describe();
}

// The controls: the filter does kill a child that makes those calls. `call(a)` runs in a
// child on one end of a fresh stream pair, under no_hidden_calls of that end.
template <class Call>
sc::child_report under_no_hidden_calls(Call call) {
  return sc::run_in_child([call](sc::child_context& child) -> std::string {
    auto pair = socket_pair<stream>::create();
    if (!pair) {
      return "create";
    }
    auto& a = pair.value().first;
    if (!child.install(no_hidden_calls(a.native_handle()))) {
      return "install";
    }
    call(a);
    return "the call returned";
  });
}

TEST(NoHiddenSystemCalls, ControlWaitReadableUnderTheFilterDiesOfSigsys) {
  const auto report = under_no_hidden_calls([](sockpair::socket<stream>& a) {
    static_cast<void>(a.wait_readable(std::chrono::milliseconds(0)));
  });
  EXPECT_TRUE(report.killed_by(SIGSYS)) << report.describe();
}

TEST(NoHiddenSystemCalls, ControlSetNonblockingUnderTheFilterDiesOfSigsys) {
  const auto report = under_no_hidden_calls(
      [](sockpair::socket<stream>& a) { static_cast<void>(a.set_nonblocking(true)); });
  EXPECT_TRUE(report.killed_by(SIGSYS)) << report.describe();
}

// ---- Call by call ----------------------------------------------------------------------------

// Stops (and lets through) every call on `fds`' sockets that the library could make, every
// readiness wait, and getppid, which the body calls between two library calls as a marker.
sc::filter recorder(std::initializer_list<int> fds) {
  sc::filter f;
  f.notify(SYS_getppid);
  for (const long nr : {long{SYS_poll}, long{SYS_ppoll}}) {
    f.notify(nr);
  }
  for (const int fd : fds) {
    for (const long nr :
         {long{SYS_sendto}, long{SYS_recvfrom}, long{SYS_sendmsg}, long{SYS_recvmsg},
          long{SYS_sendmmsg}, long{SYS_recvmmsg}, long{SYS_fcntl}, long{SYS_getsockopt},
          long{SYS_setsockopt}, long{SYS_ioctl}, long{SYS_shutdown}, long{SYS_close}}) {
      f.notify(nr, {sc::arg_equals(0, fd)});
    }
  }
  return f;
}

std::string name_of(long nr) {
  switch (nr) {
    case SYS_sendto:
      return "sendto";
    case SYS_recvfrom:
      return "recvfrom";
    case SYS_sendmsg:
      return "sendmsg";
    case SYS_recvmsg:
      return "recvmsg";
    case SYS_sendmmsg:
      return "sendmmsg";
    case SYS_recvmmsg:
      return "recvmmsg";
    case SYS_poll:
      return "poll";
    case SYS_ppoll:
      return "ppoll";
    case SYS_fcntl:
      return "fcntl";
    case SYS_getsockopt:
      return "getsockopt";
    case SYS_setsockopt:
      return "setsockopt";
    case SYS_ioctl:
      return "ioctl";
    case SYS_shutdown:
      return "shutdown";
    case SYS_close:
      return "close";
    default:
      return std::to_string(nr);
  }
}

// The recorded calls as one line per library call: "sendto", "recvmsg recvmsg", ...
std::vector<std::string> calls_per_step(const sc::child_report& report) {
  std::vector<std::string> steps(1);
  for (const sc::notified_call& c : report.calls) {
    if (c.nr == SYS_getppid) {
      steps.emplace_back();
      continue;
    }
    steps.back() += (steps.back().empty() ? "" : " ") + name_of(c.nr);
  }
  return steps;
}

TEST(SystemCallsPerCall, EachCallMakesTheCallsItsEntrySays) {
  const auto report = sc::run_in_child([](sc::child_context& child) -> std::string {
    auto streams = socket_pair<stream>::create();
    auto messages = socket_pair<seqpacket>::create();
    if (!streams || !messages) {
      return "create";
    }
    auto& [a, b] = streams.value();
    auto& [p, q] = messages.value();
    const unique_fd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    std::array<std::byte, 64> out{};
    std::array<std::byte, 64> in{};
    const auto step = [] { static_cast<void>(::getppid()); };
    if (!child.install(recorder(
            {a.native_handle(), b.native_handle(), p.native_handle(), q.native_handle()}))) {
      return "install";
    }
    std::string failures;
    const auto expect = [&](bool ok, const char* what) {
      if (!ok) {
        failures += std::string(what) + "; ";
      }
    };
    step();  // 1
    expect(a.send(out).has_value(), "send");
    step();  // 2
    expect(b.receive(in).has_value(), "receive");
    step();  // 3
    expect(a.send_all(out).has_value(), "send_all");
    step();  // 4
    expect(b.receive_exact(in).has_value(), "receive_exact");
    step();  // 5
    expect(sockpair::send_with_fds(a, out, {file.get()}).has_value(), "send_with_fds");
    step();  // 6
    expect(sockpair::receive_with_fds<1>(b, in).has_value(), "receive_with_fds");
    step();  // 7
    expect(p.send(out).has_value(), "seqpacket send");
    step();  // 8
    expect(q.receive(in).has_value(), "seqpacket receive");
    step();  // 9
    expect(p.send(out).has_value(), "seqpacket send");
    step();  // 10
    expect(q.receive_message(in).has_value(), "receive_message");
    step();  // 11
    expect(p.send(out).has_value(), "seqpacket send");
    auto size = q.next_message_size();
    expect(size && size.value() == out.size(), "next_message_size");
    step();  // 12
    expect(q.receive(in).has_value(), "seqpacket receive");
    step();  // 13
    const std::array<std::span<const std::byte>, 3> batch = {std::span<const std::byte>(out),
                                                             std::span<const std::byte>(out),
                                                             std::span<const std::byte>(out)};
    auto sent = sockpair::send_batch(p, std::span<const std::span<const std::byte>>(batch));
    expect(sent && sent.value() == 3, "send_batch");
    step();  // 14
    std::array<std::array<std::byte, 64>, 3> storage{};
    const std::array<std::span<std::byte>, 3> buffers = {std::span<std::byte>(storage[0]),
                                                         std::span<std::byte>(storage[1]),
                                                         std::span<std::byte>(storage[2])};
    std::array<sockpair::message_info, 3> info{};
    auto got = sockpair::receive_batch(q, std::span<const std::span<std::byte>>(buffers), info);
    expect(got && got.value() == 3, "receive_batch");
    step();  // 15
    {
      sockpair::frame_writer writer(a);
      expect(writer.write(out).has_value() && writer.flush().has_value(), "frame write+flush");
      step();  // 16
      sockpair::frame_reader reader(b);
      auto frame = reader.read();
      expect(frame && frame.value(), "frame read");
    }
    step();  // 17
    expect(a.wait_readable(std::chrono::milliseconds(0)).has_value(), "wait_readable");
    step();  // 18
    expect(p.send(std::span<const std::byte>()).has_value(), "empty message");
    auto empty = q.receive_message(in);
    expect(empty && empty.value().size == 0 && !empty.value().end_of_stream, "empty message");
    step();  // 19
    expect(p.shutdown(sockpair::shutdown_how::write).has_value(), "shutdown");
    step();  // 20
    auto end = q.receive_message(in);
    expect(end && end.value().end_of_stream, "end of stream");
    step();  // 21: the four sockets close as the body returns
    return failures;
  });
  ASSERT_TRUE(report.passed()) << report.describe();
  const std::vector<std::string> expected = {
      "",                 // before the first step
      "sendto",           // send
      "recvmsg",          // receive (room for control data: see detail/control.hpp)
      "sendto",           // send_all of what fits
      "recvmsg",          // receive_exact of what is there
      "sendmsg",          // send_with_fds
      "recvmsg",          // receive_with_fds
      "sendto",           // seqpacket send
      "recvmsg",          // seqpacket receive (MSG_TRUNC tells truncation)
      "sendto",           // seqpacket send
      "recvmsg recvmsg",  // receive_message: a zero-copy peek, then the receive
      "sendto recvmsg",   // seqpacket send, next_message_size (a zero-copy peek)
      "recvmsg",          // seqpacket receive
      "sendmmsg",         // send_batch of 3
      "recvmmsg",         // receive_batch of 3 queued
      "sendto",           // frame write + flush of one small frame
      "recvmsg",          // frame read
      "poll",             // wait_readable
      // An empty message: the peek returns 0, and poll(2) shows no shutdown.
      "sendto recvmsg poll recvmsg", "shutdown",
      // The end of the stream: the peek, the poll, then "up to four more system calls"
      // (docs/reference.md): SO_PASSCRED read, turned on, the credentials peek, turned off.
      "recvmsg poll getsockopt setsockopt recvmsg setsockopt",
      "close close close close",  // each socket's destructor, once each
  };
  EXPECT_EQ(calls_per_step(report), expected);
}

}  // namespace
