// Every errno the kernel may return, injected with seccomp (tests/support/seccomp.hpp) into
// a forked child: socketpair(2) failing with each of the nine errnos its manual pages list,
// and sendto/recvfrom/sendmsg/recvmsg (and sendmmsg/recvmmsg) failing in the middle of
// `send_all`, `receive_exact`, frames, batches and descriptor passing. Each case checks the
// error as reported, the exact progress (against what the peer can really read), that
// nothing is lost when the caller resumes, and that no descriptor is leaked.
//
// EINTR is special: the library restarts an interrupted blocking call (it cannot tell an
// injected EINTR from a real one). A call failed with EINTR forever would be restarted
// forever, so EINTR is injected a finite number of times (`eintr_repeats`); the tests pin
// that the same call is made again that many times (the retry path) and that the caller
// never sees EINTR.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/reliability/harness.hpp"
#include "tests/support/fds.hpp"
#include "tests/support/seccomp.hpp"

namespace {

namespace sc = sockpair::testing::seccomp;
using sockpair::dgram;
using sockpair::seqpacket;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::reliability::fill_pattern;
using sockpair::reliability::first_mismatch;
using sockpair::reliability::kib;
using sockpair::testing::open_fds;

// How many times in a row an injected EINTR is repeated before the call is let through.
constexpr std::size_t eintr_repeats = 3;

std::error_code errno_code(int e) { return {e, std::system_category()}; }

std::string errno_name(int e) {
  switch (e) {
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    case EFAULT:
      return "EFAULT";
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case EPROTONOSUPPORT:
      return "EPROTONOSUPPORT";
    case ENOMEM:
      return "ENOMEM";
    case ENOSR:
      return "ENOSR";
    case EACCES:
      return "EACCES";
    case ENOBUFS:
      return "ENOBUFS";
    case EINTR:
      return "EINTR";
    case EAGAIN:
      return "EAGAIN";
    case EPIPE:
      return "EPIPE";
    case ECONNRESET:
      return "ECONNRESET";
    case EIO:
      return "EIO";
    default:
      return std::to_string(e);
  }
}

// What went wrong in a child, in order; empty when nothing did.
class verdict {
 public:
  bool expect(bool ok, const std::string& what) {
    if (!ok) {
      text_ += (text_.empty() ? "" : "; ") + what;
    }
    return ok;
  }
  template <class A, class B>
  bool expect_eq(const A& actual, const B& wanted, const std::string& what) {
    return expect(actual == wanted, what + ": got " + show(actual) + ", wanted " + show(wanted));
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  template <class T>
  static std::string show(const T& v) {
    if constexpr (std::is_same_v<T, std::error_code>) {
      return v ? errno_name(v.value()) + " (" + v.message() + ")" : "success";
    } else if constexpr (std::is_integral_v<T>) {
      return std::to_string(v);
    } else {
      return "?";
    }
  }
  std::string text_;
};

// ---- Progress of send_all / receive_exact --------------------------------------------------
// One send_all or receive_exact of a transfer (resuming it where it stopped): the error (none
// on success) and the bytes moved so far.

struct progress {
  std::error_code error;
  std::size_t done = 0;
};

template <class Bytes>
progress resume(socket<stream>& s, sockpair::transfer<Bytes>& t) {
  constexpr bool sending = std::is_same_v<Bytes, std::span<const std::byte>> ||
                           std::is_same_v<Bytes, std::span<const std::span<const std::byte>>>;
  sockpair::result<std::size_t> r = [&] {
    if constexpr (sending) {
      return s.send_all(t);
    } else {
      return s.receive_exact(t);
    }
  }();
  return {r ? std::error_code() : r.error(), t.done()};
}

// ---- Helpers --------------------------------------------------------------------------------

std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> out(size);
  fill_pattern(seed, 0, out);
  return out;
}

// Bytes queued for reading on `fd`.
std::size_t readable(int fd) {
  int n = 0;
  if (::ioctl(fd, FIONREAD, &n) != 0) {
    return static_cast<std::size_t>(-1);
  }
  return static_cast<std::size_t>(n);
}

// Reads everything queued on the non-blocking `fd` (raw recv: the library is under test)
// and appends it to `into`.
void drain(int fd, std::vector<std::byte>& into) {
  std::array<std::byte, 64 * kib> chunk{};
  for (;;) {
    const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n <= 0) {
      return;
    }
    into.insert(into.end(), chunk.begin(), chunk.begin() + n);
  }
}

// The plan for an injected `error` after `pass_first` calls: once (the caller then resumes),
// or `eintr_repeats` times for EINTR (the library restarts it).
sc::injection_plan plan_for(int error, std::size_t pass_first, std::size_t times = 1) {
  return {pass_first, error, error == EINTR ? eintr_repeats : times};
}

// How many arguments the system call `nr` takes.
std::size_t argument_count(long nr) {
  switch (nr) {
    case SYS_sendto:
    case SYS_recvfrom:
      return 6;
    case SYS_recvmmsg:
      return 5;
    case SYS_sendmmsg:
      return 4;
    default:
      return 3;  // sendmsg, recvmsg
  }
}

// Checks the calls the test process saw: `pass_first` ran, then the injected ones, then at
// least one more ran (the library's restart of an EINTR, or the caller's resumption).
std::string check_calls(const sc::child_report& report, int error, std::size_t pass_first,
                        std::size_t times = 1) {
  const std::size_t injected = error == EINTR ? eintr_repeats : times;
  if (report.failed_calls() != injected) {
    return "injected " + std::to_string(report.failed_calls()) + " errors, planned " +
           std::to_string(injected);
  }
  if (report.calls.size() < pass_first + injected + 1) {
    return "only " + std::to_string(report.calls.size()) + " calls seen";
  }
  if (error == EINTR) {
    // The restarts are the same call again: same number, same arguments (those the call
    // has: the registers past them hold whatever they held).
    const sc::notified_call& first = report.calls[pass_first];
    const std::size_t arguments = argument_count(first.nr);
    for (std::size_t i = pass_first; i <= pass_first + injected; ++i) {
      if (report.calls[i].nr != first.nr ||
          !std::equal(first.args.begin(), first.args.begin() + arguments,
                      report.calls[i].args.begin())) {
        return "call " + std::to_string(i) + " is not a restart of the interrupted call";
      }
    }
  }
  return {};
}

// ---- socketpair(2): the nine errnos ---------------------------------------------------------

class SocketpairErrno : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(AllNine, SocketpairErrno,
                         ::testing::Values(EAFNOSUPPORT, EFAULT, EMFILE, ENFILE, EOPNOTSUPP,
                                           EPROTONOSUPPORT, ENOMEM, ENOSR, EACCES),
                         [](const auto& test) { return errno_name(test.param); });

template <class Type>
void create_fails_cleanly(verdict& v, int error, sockpair::pair_options options) {
  const std::set<int> before = open_fds();
  auto pair = socket_pair<Type>::create(options);
  v.expect(!pair, "create() succeeded under the filter");
  if (!pair) {
    v.expect_eq(pair.error(), errno_code(error), "create()'s error");
    v.expect(pair.error().category() == std::system_category(), "not system_category");
  }
  v.expect(open_fds() == before, "a descriptor was opened");
}

TEST_P(SocketpairErrno, CreateReturnsItUnchangedAndOpensNothing) {
  const int error = GetParam();
  const auto report = sc::run_in_child([error](sc::child_context& child) -> std::string {
    sc::filter f;
    f.fail(SYS_socketpair, error, {sc::arg_equals(0, AF_UNIX)});
    if (!child.install(f)) {
      return "install: " + std::error_code(errno, std::system_category()).message();
    }
    verdict v;
    for (const bool nonblocking : {false, true}) {
      const sockpair::pair_options options{.nonblocking = nonblocking};
      create_fails_cleanly<stream>(v, error, options);
      create_fails_cleanly<seqpacket>(v, error, options);
      create_fails_cleanly<dgram>(v, error, options);
    }
    // The filter is scoped: another domain still reaches the kernel.
    int fds[2] = {-1, -1};
    v.expect(::socketpair(AF_INET, SOCK_STREAM, 0, fds) != 0 && errno == EOPNOTSUPP,
             "the filter caught more than AF_UNIX");
    return v.text();
  });
  EXPECT_TRUE(report.passed()) << report.describe();
}

// ---- close(2) ---------------------------------------------------------------------------------

// Linux releases a descriptor even when close(2) fails, EINTR included, so the library must
// report the error and never call close again (a retry could close a descriptor another
// thread was just given). The filter fails every close of that descriptor, forever: one call
// must be seen, and the owner left empty.
TEST(InjectedClose, ErrorsAreReportedOnceAndTheCloseNeverRetried) {
  for (const int error : {EINTR, EIO}) {
    const auto report = sc::run_in_child(
        [error](sc::child_context& child) -> std::string {
          auto pair = socket_pair<stream>::create();
          if (!pair) {
            return "create";
          }
          auto& a = pair.value().first;
          if (!child.notify_on(a.native_handle(), {SYS_close})) {
            return "install";
          }
          verdict v;
          auto closed = a.close();
          v.expect_eq(closed ? std::error_code() : closed.error(), errno_code(error),
                      "close()'s error");
          v.expect_eq(a.native_handle(), -1, "the owner after close()");
          auto again = a.close();
          v.expect(static_cast<bool>(again), "closing an empty owner");
          return v.text();
        },
        {.pass_first = 0, .error = error});
    EXPECT_TRUE(report.passed()) << errno_name(error) << ": " << report.describe();
    EXPECT_EQ(report.calls.size(), 1U) << errno_name(error);
  }
}

// ---- adopt() ---------------------------------------------------------------------------------

// When checking a descriptor's kind fails (SO_TYPE is asked first, then SO_DOMAIN),
// `socket::adopt` returns the error unchanged and hands the descriptor back: the caller's
// unique_fd still owns it.
TEST(InjectedAdopt, AFailedKindCheckReportsTheErrorAndHandsTheDescriptorBack) {
  for (const std::size_t failing : {0U, 1U}) {  // the SO_TYPE query, then the SO_DOMAIN one
    const auto report = sc::run_in_child(
        [](sc::child_context& child) -> std::string {
          int fds[2] = {-1, -1};
          if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
            return "socketpair";
          }
          const unique_fd keep(fds[1]);
          const std::set<int> before = open_fds();
          if (!child.notify_on(fds[0], {SYS_getsockopt})) {
            return "install";
          }
          verdict v;
          unique_fd mine(fds[0]);
          auto adopted = socket<stream>::adopt(std::move(mine));
          v.expect_eq(adopted ? std::error_code() : adopted.error(), errno_code(ENOBUFS),
                      "adopt()'s error");
          // NOLINTNEXTLINE(bugprone-use-after-move): adopt hands it back on failure
          v.expect(mine.get() == fds[0], "the caller still owns the descriptor");
          v.expect(open_fds() == before, "the descriptor is still open");
          return v.text();
        },
        {.pass_first = failing, .error = ENOBUFS});
    EXPECT_TRUE(report.passed()) << failing << ": " << report.describe();
    EXPECT_EQ(report.calls.size(), failing + 1) << failing;
  }
}

// ---- EINTR on a socket with a timeout ------------------------------------------------------

// With a send or receive timeout, restarting after EINTR would re-arm the kernel's timer, so
// the library retries without blocking (MSG_DONTWAIT), waiting in poll(2) in between
// (docs/io.md). One injected EINTR shows it: the retry is the same call with MSG_DONTWAIT
// added; without a timeout it is the same call, flags unchanged (checked by check_calls).
TEST(InjectedEintrWithTimeout, TheRetryAddsMsgDontwait) {
  for (const bool sending : {true, false}) {
    const auto report = sc::run_in_child(
        [sending](sc::child_context& child) -> std::string {
          auto pair = socket_pair<stream>::create();
          if (!pair) {
            return "create";
          }
          auto& [a, b] = pair.value();
          const std::vector<std::byte> data = pattern(64, 13);
          if (!a.set_send_timeout(std::chrono::seconds(10)) ||
              !b.set_receive_timeout(std::chrono::seconds(10))) {
            return "timeouts";
          }
          if (!sending && ::send(a.native_handle(), data.data(), data.size(), 0) != 64) {
            return "send";
          }
          if (!child.notify_on((sending ? a : b).native_handle(),
                               {sending ? SYS_sendto : SYS_recvmsg})) {
            return "install";
          }
          verdict v;
          std::vector<std::byte> in(data.size());
          sockpair::outgoing out(data);
          sockpair::incoming into(in);
          const progress p = sending ? resume(a, out) : resume(b, into);
          v.expect_eq(p.error, std::error_code(), "the call");
          v.expect_eq(p.done, data.size(), "done");
          return v.text();
        },
        {.pass_first = 0, .error = EINTR, .fail_count = 1});
    ASSERT_TRUE(report.passed()) << report.describe();
    ASSERT_EQ(report.calls.size(), 2U) << sending;
    // send(2) is sendto(fd, data, length, flags, ...); a stream receive is recvmsg(fd, msg,
    // flags) (the library offers a control buffer: see detail/control.hpp).
    const std::size_t flags_arg = sending ? 3 : 2;
    const auto flags = [&](const sc::notified_call& c) {
      return static_cast<int>(c.args[flags_arg]);
    };
    EXPECT_EQ(flags(report.calls[0]) & MSG_DONTWAIT, 0) << sending;
    EXPECT_EQ(flags(report.calls[1]), flags(report.calls[0]) | MSG_DONTWAIT) << sending;
    // The same length (send), the same msghdr (receive).
    EXPECT_EQ(report.calls[1].args[sending ? 2 : 1], report.calls[0].args[sending ? 2 : 1])
        << sending;
  }
}

// ---- A send that moves nothing --------------------------------------------------------------

// A stream send(2) of at least one byte never returns 0 on Linux; were one to (a kernel or an
// `fd_stream` breaking its contract), a loop that adds the count and tries again would spin
// forever. The library's stance (socket.hpp, on the gathered `send_all`; framing.hpp): EIO,
// not a spin, with `done` still exact. The faked 0 is answered 1000 times, then the calls run
// (and meet the full non-blocking socket's EAGAIN), so a loop that spins still ends.
std::string zero_count_case(sc::child_context& child, bool gathered) {
  auto pair = socket_pair<stream>::create({.nonblocking = true});
  if (!pair) {
    return "create";
  }
  auto& [a, b] = pair.value();
  const std::vector<std::byte> data = pattern(1024 * kib, 11);
  const std::span<const std::byte> all(data);
  const std::array<std::span<const std::byte>, 2> parts = {all.first(100), all.subspan(100)};
  if (!child.notify_on(a.native_handle(), {gathered ? SYS_sendmsg : SYS_sendto})) {
    return "install";
  }
  verdict v;
  sockpair::outgoing_buffers out_parts{std::span<const std::span<const std::byte>>(parts)};
  sockpair::outgoing out_all(all);
  const progress p = gathered ? resume(a, out_parts) : resume(a, out_all);
  v.expect_eq(p.error, errno_code(EIO), "send_all's error");
  v.expect_eq(readable(b.native_handle()), p.done, "done against what the peer can read");
  return v.text();
}

TEST(InjectedZeroCount, SendAllOfOneBufferFailsWithEioRatherThanSpin) {
  const auto report =
      sc::run_in_child([](sc::child_context& child) { return zero_count_case(child, false); },
                       {.pass_first = 1, .fail_count = 1000, .returns = 0});
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(report.calls.size(), 2U) << "send calls made";
}

TEST(InjectedZeroCount, GatheredSendAllFailsWithEioRatherThanSpin) {
  const auto report =
      sc::run_in_child([](sc::child_context& child) { return zero_count_case(child, true); },
                       {.pass_first = 1, .fail_count = 1000, .returns = 0});
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(report.calls.size(), 2U) << "send calls made";
}

TEST(InjectedZeroCount, FrameWriterFlushFailsWithEioRatherThanSpin) {
  const auto report = sc::run_in_child(
      [](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& a = pair.value().first;
        const std::vector<std::byte> frame = pattern(128, 12);
        if (!child.notify_on(a.native_handle(), {SYS_sendto})) {
          return "install";
        }
        verdict v;
        sockpair::frame_writer writer(a);
        v.expect(static_cast<bool>(writer.write(frame)), "write() buffers the frame");
        auto flushed = writer.flush();
        v.expect_eq(flushed ? std::error_code() : flushed.error(), errno_code(EIO),
                    "flush()'s error");
        v.expect_eq(writer.pending_bytes(), sockpair::frame_header_size + frame.size(),
                    "pending_bytes");
        return v.text();
      },
      {.pass_first = 0, .fail_count = 1000, .returns = 0});
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(report.calls.size(), 1U) << "send calls made";
}

// ---- The I/O calls, failing in the middle ----------------------------------------------------

class InjectedIoError : public ::testing::TestWithParam<int> {
 protected:
  // The error the library is expected to report: the injected one, except EINTR, which it
  // restarts until the call is let through (and then meets the socket's own answer).
  static std::error_code reported(int injected, int otherwise) {
    return errno_code(injected == EINTR ? otherwise : injected);
  }
};

INSTANTIATE_TEST_SUITE_P(Errors, InjectedIoError,
                         ::testing::Values(ENOBUFS, ENOMEM, EINTR, EAGAIN, EPIPE, ECONNRESET),
                         [](const auto& test) { return errno_name(test.param); });

// A non-blocking stream send_all of more than the socket buffer holds: the first sendto
// moves what fits, the second is failed. `done` must be exactly what the peer can read, and
// resuming must deliver every byte once.
TEST_P(InjectedIoError, SendAllReportsExactProgressAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> data = pattern(1024 * kib, 1);
        const std::set<int> before = open_fds();
        if (!child.notify_on(a.native_handle(), {SYS_sendto})) {
          return "install";
        }
        verdict v;
        sockpair::outgoing out(data);
        progress p = resume(a, out);
        v.expect_eq(p.error, errno_code(error == EINTR ? EAGAIN : error), "send_all's error");
        v.expect(p.done > 0 && p.done < data.size(), "the first call should move part");
        v.expect_eq(readable(b.native_handle()), p.done, "done against what the peer can read");
        std::vector<std::byte> got;
        for (int round = 0;; ++round) {
          drain(b.native_handle(), got);
          if (p.done == data.size()) {
            break;
          }
          if (round == 1000) {
            return v.text() + "; no end in sight: done " + std::to_string(p.done);
          }
          p = resume(a, out);
          if (p.error && p.error != std::errc::operation_would_block) {
            return v.text() + "; resuming: " + p.error.message();
          }
        }
        v.expect_eq(got.size(), data.size(), "bytes received");
        v.expect_eq(first_mismatch(1, 0, got), got.size(), "first wrong byte");
        v.expect(open_fds() == before, "descriptors changed");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

// The gathered send_all (sendmsg), failed at its second call.
TEST_P(InjectedIoError, GatheredSendAllReportsExactProgressAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> data = pattern(1024 * kib, 2);
        const std::span<const std::byte> all(data);
        const std::array<std::span<const std::byte>, 3> parts = {
            all.first(8), all.subspan(8, 512 * kib), all.subspan(8 + 512 * kib)};
        const std::span<const std::span<const std::byte>> buffers(parts);
        if (!child.notify_on(a.native_handle(), {SYS_sendmsg})) {
          return "install";
        }
        verdict v;
        sockpair::outgoing_buffers out(buffers);
        progress p = resume(a, out);
        v.expect_eq(p.error, errno_code(error == EINTR ? EAGAIN : error), "send_all's error");
        v.expect(p.done > 0 && p.done < data.size(), "the first call should move part");
        v.expect_eq(readable(b.native_handle()), p.done, "done against what the peer can read");
        std::vector<std::byte> got;
        for (int round = 0;; ++round) {
          drain(b.native_handle(), got);
          if (p.done == data.size()) {
            break;
          }
          if (round == 1000) {
            return v.text() + "; no end in sight: done " + std::to_string(p.done);
          }
          p = resume(a, out);
          if (p.error && p.error != std::errc::operation_would_block) {
            return v.text() + "; resuming: " + p.error.message();
          }
        }
        v.expect_eq(got.size(), data.size(), "bytes received");
        v.expect_eq(first_mismatch(2, 0, got), got.size(), "first wrong byte");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

// receive_exact of 4 KiB when 1000 bytes are queued: the first recvmsg takes them, the
// second is failed. (Non-blocking, so that an EINTR let through meets EAGAIN, not a wait.)
TEST_P(InjectedIoError, ReceiveExactReportsExactProgressAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> data = pattern(4 * kib, 3);
        if (::send(a.native_handle(), data.data(), 1000, 0) != 1000) {
          return "send";
        }
        if (!child.notify_on(b.native_handle(), {SYS_recvmsg})) {
          return "install";
        }
        verdict v;
        std::vector<std::byte> buffer(data.size());
        sockpair::incoming in(buffer);
        progress p = resume(b, in);
        v.expect_eq(p.error, errno_code(error == EINTR ? EAGAIN : error), "receive_exact's error");
        v.expect_eq(p.done, std::size_t{1000}, "done");
        v.expect(std::memcmp(buffer.data(), data.data(), 1000) == 0, "the first 1000 bytes");
        v.expect_eq(readable(b.native_handle()), std::size_t{0}, "bytes left queued");
        const std::size_t rest = data.size() - 1000;
        if (::send(a.native_handle(), data.data() + 1000, rest, 0) != static_cast<ssize_t>(rest)) {
          return v.text() + "; send";
        }
        p = resume(b, in);
        v.expect_eq(p.error, std::error_code(), "resumed receive_exact");
        v.expect_eq(p.done, data.size(), "done after resuming");
        v.expect(buffer == data, "the bytes received");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

// The scattered receive_exact (recvmsg), failed at its second call.
TEST_P(InjectedIoError, ScatteredReceiveExactReportsExactProgressAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> data = pattern(4 * kib, 4);
        if (::send(a.native_handle(), data.data(), 1000, 0) != 1000) {
          return "send";
        }
        if (!child.notify_on(b.native_handle(), {SYS_recvmsg})) {
          return "install";
        }
        verdict v;
        std::vector<std::byte> buffer(data.size());
        const std::span<std::byte> whole(buffer);
        const std::array<std::span<std::byte>, 3> parts = {
            whole.first(600), whole.subspan(600, 600), whole.subspan(1200)};
        const std::span<const std::span<std::byte>> buffers(parts);
        sockpair::incoming_buffers in(buffers);
        progress p = resume(b, in);
        v.expect_eq(p.error, errno_code(error == EINTR ? EAGAIN : error), "receive_exact's error");
        v.expect_eq(p.done, std::size_t{1000}, "done");
        const std::size_t rest = data.size() - 1000;
        if (::send(a.native_handle(), data.data() + 1000, rest, 0) != static_cast<ssize_t>(rest)) {
          return v.text() + "; send";
        }
        p = resume(b, in);
        v.expect_eq(p.error, std::error_code(), "resumed receive_exact");
        v.expect_eq(p.done, data.size(), "done after resuming");
        v.expect(buffer == data, "the bytes received");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

// ---- Frames ---------------------------------------------------------------------------------

// A frame larger than the socket buffer, written at once (flush_threshold 0): the gathered
// sendmsg moves part, the next is failed. write() accepts the frame (the error stays with
// the stream), pending_bytes() is exactly what the peer has not got, a flush meets the
// injected error again (plan: failed twice), and the frames then arrive whole, once.
TEST_P(InjectedIoError, FrameWriterKeepsExactlyTheUnsentBytes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> big = pattern(600 * kib, 5);
        const std::vector<std::byte> small = pattern(64, 6);
        if (!child.notify_on(a.native_handle(), {SYS_sendmsg, SYS_sendto})) {
          return "install";
        }
        verdict v;
        sockpair::frame_writer writer(a, {.flush_threshold = 0});
        auto wrote = writer.write(big);
        v.expect(static_cast<bool>(wrote), "write() of the big frame was refused");
        const std::size_t total = sockpair::frame_header_size + big.size();
        const std::size_t on_wire = readable(b.native_handle());
        v.expect(on_wire > 0 && on_wire < total, "part of the frame should be on the wire");
        v.expect_eq(writer.pending_bytes(), total - on_wire, "pending_bytes");
        auto flushed = writer.flush();
        v.expect_eq(flushed ? std::error_code() : flushed.error(),
                    errno_code(error == EINTR ? EAGAIN : error), "flush()'s error");
        v.expect_eq(writer.pending_bytes(), total - on_wire, "pending_bytes after the flush");
        // Let the rest through: read frames as they complete, flushing in between.
        sockpair::frame_reader reader(b);
        std::vector<std::vector<std::byte>> frames;
        bool second_written = false;
        for (int round = 0; round < 10000 && frames.size() < 2; ++round) {
          if (writer.pending_bytes() == 0 && !second_written) {
            second_written = v.expect(static_cast<bool>(writer.write(small)), "write(small)");
          }
          static_cast<void>(writer.flush());
          auto frame = reader.read();
          if (frame && frame.value()) {
            frames.emplace_back(frame.value()->begin(), frame.value()->end());
          } else if (!frame && frame.error() != std::errc::operation_would_block) {
            return v.text() + "; read: " + frame.error().message();
          }
        }
        v.expect_eq(frames.size(), std::size_t{2}, "frames received");
        v.expect(frames.size() == 2 && frames[0] == big && frames[1] == small, "frame contents");
        v.expect_eq(readable(b.native_handle()), std::size_t{0}, "bytes left over");
        return v.text();
      },
      plan_for(error, 1, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1, 2), "");
}

// A frame and a half queued: read() hands out the first, the next recvmsg is failed, the
// half frame stays buffered, and the rest completes it.
TEST_P(InjectedIoError, FrameReaderKeepsThePartialFrame) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        const std::vector<std::byte> one = pattern(800, 7);
        const std::vector<std::byte> two = pattern(1600, 8);
        std::vector<std::byte> wire;
        for (const auto* frame : {&one, &two}) {
          std::array<std::byte, sockpair::frame_header_size> header{};
          const auto length = static_cast<std::uint32_t>(frame->size());
          std::memcpy(header.data(), &length, header.size());  // little-endian machines
          wire.insert(wire.end(), header.begin(), header.end());
          wire.insert(wire.end(), frame->begin(), frame->end());
        }
        const std::size_t first_part = sockpair::frame_header_size + one.size() + 700;
        if (::send(a.native_handle(), wire.data(), first_part, 0) !=
            static_cast<ssize_t>(first_part)) {
          return "send";
        }
        if (!child.notify_on(b.native_handle(), {SYS_recvmsg})) {
          return "install";
        }
        verdict v;
        sockpair::frame_reader reader(b);
        auto first = reader.read();
        v.expect(
            first && first.value() &&
                std::equal(first.value()->begin(), first.value()->end(), one.begin(), one.end()),
            "the first frame");
        auto failed = reader.read();
        v.expect_eq(failed ? std::error_code() : failed.error(),
                    errno_code(error == EINTR ? EAGAIN : error), "read()'s error");
        v.expect_eq(reader.buffered_bytes(), std::size_t{700}, "buffered_bytes");
        const std::size_t rest = wire.size() - first_part;
        if (::send(a.native_handle(), wire.data() + first_part, rest, 0) !=
            static_cast<ssize_t>(rest)) {
          return v.text() + "; send";
        }
        auto second = reader.read();
        v.expect(
            second && second.value() &&
                std::equal(second.value()->begin(), second.value()->end(), two.begin(), two.end()),
            "the second frame");
        v.expect_eq(reader.buffered_bytes(), std::size_t{0}, "left buffered");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

// ---- Batches --------------------------------------------------------------------------------

constexpr std::size_t batch_messages = 100;  // more than one chunk of 64

std::vector<std::vector<std::byte>> numbered_messages(std::size_t count) {
  std::vector<std::vector<std::byte>> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(pattern(16 + 8 * (i % 5), 100 + i));
  }
  return out;
}

// Receives every queued message on non-blocking `fd` (raw) and compares with `sent`.
bool received_in_order(int fd, const std::vector<std::vector<std::byte>>& sent, verdict& v) {
  std::size_t i = 0;
  std::array<std::byte, 256> buffer{};
  for (;; ++i) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      break;
    }
    if (i >= sent.size() || static_cast<std::size_t>(n) != sent[i].size() ||
        std::memcmp(buffer.data(), sent[i].data(), sent[i].size()) != 0) {
      return v.expect(false, "message " + std::to_string(i) + " differs");
    }
  }
  return v.expect_eq(i, sent.size(), "messages received");
}

// send_batch (sendmmsg: 64 per call) of 100 messages; the second call is failed: the batch
// reports the 64 sent; the next call starts with message 64 and meets the error (failed
// twice); then the rest go. Also the per-message fallback (one sendto each, failed at the
// 30th).
template <bool PerMessage>
std::string send_batch_case(sc::child_context& child, int error) {
  auto pair = socket_pair<seqpacket>::create({.nonblocking = true});
  if (!pair) {
    return "create";
  }
  // Named, not a structured binding: clang 14 cannot capture one in a lambda.
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const auto messages = numbered_messages(batch_messages);
  std::vector<std::span<const std::byte>> spans(messages.begin(), messages.end());
  const std::span<const std::span<const std::byte>> all(spans);
  if (!child.notify_on(a.native_handle(), {PerMessage ? SYS_sendto : SYS_sendmmsg})) {
    return "install";
  }
  const std::size_t first = PerMessage ? 30 : 64;
  const auto send = [&](std::span<const std::span<const std::byte>> m) {
    if constexpr (PerMessage) {
      return sockpair::detail::batch_per_message::send(a.native_handle(), m);
    } else {
      return sockpair::send_batch(a, m);
    }
  };
  verdict v;
  std::size_t done = 0;
  auto sent = send(all);
  if (error == EINTR) {
    v.expect(sent && sent.value() == all.size(), "EINTR: the whole batch, restarted");
    done = sent ? sent.value() : 0;
  } else {
    v.expect(sent && sent.value() == first, "the first batch call's count");
    done = sent ? sent.value() : 0;
    auto again = send(all.subspan(done));
    v.expect_eq(again ? std::error_code() : again.error(), errno_code(error),
                "the next call's error");
    auto rest = send(all.subspan(done));
    v.expect(rest && rest.value() == all.size() - done, "the rest");
    done += rest ? rest.value() : 0;
  }
  v.expect_eq(done, all.size(), "messages sent");
  received_in_order(b.native_handle(), messages, v);
  return v.text();
}

TEST_P(InjectedIoError, SendBatchReportsTheCountSentAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) { return send_batch_case<false>(child, error); },
      plan_for(error, 1, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1, 2), "");
}

TEST_P(InjectedIoError, PerMessageSendBatchReportsTheCountSentAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) { return send_batch_case<true>(child, error); },
      plan_for(error, 30, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 30, 2), "");
}

// receive_batch of 100 queued messages (recvmmsg: 64 per call), the second call failed:
// 64 arrive; the next call meets the error; the one after gets the other 36. Also the
// per-message fallback (recvmsg each, failed at the 30th).
template <bool PerMessage>
std::string receive_batch_case(sc::child_context& child, int error) {
  auto pair = socket_pair<seqpacket>::create({.nonblocking = true});
  if (!pair) {
    return "create";
  }
  // Named, not a structured binding: clang 14 cannot capture one in a lambda.
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const auto messages = numbered_messages(batch_messages);
  for (const auto& m : messages) {
    if (::send(a.native_handle(), m.data(), m.size(), 0) != static_cast<ssize_t>(m.size())) {
      return "send";
    }
  }
  std::vector<std::array<std::byte, 64>> storage(batch_messages);
  std::vector<std::span<std::byte>> buffers(storage.begin(), storage.end());
  std::vector<sockpair::message_info> info(batch_messages);
  if (!child.notify_on(b.native_handle(), {PerMessage ? SYS_recvmsg : SYS_recvmmsg})) {
    return "install";
  }
  const auto receive = [&](std::size_t from) {
    const std::span<const std::span<std::byte>> in(buffers.data() + from, buffers.size() - from);
    const std::span<sockpair::message_info> out(info.data() + from, info.size() - from);
    if constexpr (PerMessage) {
      return sockpair::detail::batch_per_message::receive(b.native_handle(), in, out);
    } else {
      return sockpair::receive_batch(b, in, out);
    }
  };
  const std::size_t first = PerMessage ? 30 : 64;
  verdict v;
  std::size_t done = 0;
  auto got = receive(0);
  if (error == EINTR) {
    // The interrupted call (the second chunk, or the 31st recvmsg) is restarted and finds
    // the rest queued: one batch call receives all.
    v.expect(got && got.value() == batch_messages, "EINTR: the whole batch, restarted");
    done = got ? got.value() : 0;
  } else {
    v.expect(got && got.value() == first, "the first batch call's count");
    done = got ? got.value() : 0;
    auto again = receive(done);
    v.expect_eq(again ? std::error_code() : again.error(), errno_code(error),
                "the next call's error");
    auto rest = receive(done);
    v.expect(rest && rest.value() == batch_messages - done, "the rest");
    done += rest ? rest.value() : 0;
  }
  v.expect_eq(done, batch_messages, "messages received");
  for (std::size_t i = 0; i < done && i < batch_messages; ++i) {
    if (info[i].size != messages[i].size() || info[i].truncated() ||
        std::memcmp(storage[i].data(), messages[i].data(), messages[i].size()) != 0) {
      v.expect(false, "message " + std::to_string(i) + " differs");
      break;
    }
  }
  v.expect_eq(readable(b.native_handle()), std::size_t{0}, "left queued");
  return v.text();
}

TEST_P(InjectedIoError, ReceiveBatchReportsTheCountReceivedAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) { return receive_batch_case<false>(child, error); },
      plan_for(error, 1, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1, 2), "");
}

TEST_P(InjectedIoError, PerMessageReceiveBatchReportsTheCountReceivedAndResumes) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) { return receive_batch_case<true>(child, error); },
      plan_for(error, 30, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 30, 2), "");
}

// ---- Descriptor passing ---------------------------------------------------------------------

// Five messages, each with a descriptor; the third sendmsg is failed. The caller learns
// which, sends it again, and the receiver gets all five in order with their descriptors;
// the sender's descriptors are untouched (borrowed) and nothing is left open.
TEST_P(InjectedIoError, SendWithFdsFailsOneMessageAndLosesNothing) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<seqpacket>::create();
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        std::vector<unique_fd> files;
        files.reserve(5);
        for (int i = 0; i < 5; ++i) {
          files.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        }
        const std::set<int> before = open_fds();
        if (!child.notify_on(a.native_handle(), {SYS_sendmsg})) {
          return "install";
        }
        verdict v;
        for (std::size_t i = 0; i < files.size(); ++i) {
          const std::array<char, 1> tag = {static_cast<char>('0' + i)};
          auto sent = sockpair::send_with_fds(a, tag, {files[i].get()});
          if (i == 2 && error != EINTR) {
            v.expect_eq(sent ? std::error_code() : sent.error(), errno_code(error),
                        "the third send's error");
            sent = sockpair::send_with_fds(a, tag, {files[i].get()});  // the caller retries
          }
          v.expect(sent && sent.value() == 1, "send " + std::to_string(i));
        }
        v.expect(open_fds() == before, "the sender's descriptors changed");
        for (std::size_t i = 0; i < files.size(); ++i) {
          std::array<char, 4> tag{};
          auto got = sockpair::receive_with_fds<2>(b, tag);
          if (!v.expect(got && got.value().size == 1 && tag[0] == static_cast<char>('0' + i) &&
                            got.value().fds.size() == 1,
                        "message " + std::to_string(i))) {
            break;
          }
          v.expect(sockpair::testing::same_file(got.value().fds[0].get(), files[i].get()),
                   "descriptor " + std::to_string(i));
        }
        v.expect(open_fds() == before, "descriptors left open");
        return v.text();
      },
      plan_for(error, 2));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 2), "");
}

// Three messages with a descriptor each, queued; the second recvmsg is failed: no
// descriptor is installed, the message stays queued, and the next receive gets it.
TEST_P(InjectedIoError, ReceiveWithFdsFailsWithoutInstallingOrLosingAnything) {
  const int error = GetParam();
  const auto report = sc::run_in_child(
      [error](sc::child_context& child) -> std::string {
        auto pair = socket_pair<stream>::create({.nonblocking = true});
        if (!pair) {
          return "create";
        }
        auto& [a, b] = pair.value();
        std::vector<unique_fd> files;
        files.reserve(3);
        for (int i = 0; i < 3; ++i) {
          files.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
          const std::array<char, 1> tag = {static_cast<char>('0' + i)};
          if (!sockpair::send_with_fds(a, tag, {files.back().get()})) {
            return "send";
          }
        }
        const std::set<int> before = open_fds();
        if (!child.notify_on(b.native_handle(), {SYS_recvmsg})) {
          return "install";
        }
        verdict v;
        std::size_t received = 0;
        for (int attempt = 0; attempt < 6 && received < files.size(); ++attempt) {
          std::array<char, 1> tag{};
          const std::set<int> at_start = open_fds();
          auto got = sockpair::receive_with_fds<1>(b, tag);
          if (!got) {
            v.expect_eq(got.error(), errno_code(error == EINTR ? EAGAIN : error),
                        "receive " + std::to_string(attempt));
            v.expect(open_fds() == at_start, "a failed receive installed a descriptor");
            v.expect_eq(attempt, 1, "the failed attempt");
            continue;
          }
          v.expect(
              got.value().size == 1 && tag[0] == static_cast<char>('0' + received) &&
                  got.value().fds.size() == 1 &&
                  sockpair::testing::same_file(got.value().fds[0].get(), files[received].get()),
              "message " + std::to_string(received));
          ++received;
        }
        v.expect_eq(received, files.size(), "messages received");
        v.expect(open_fds() == before, "descriptors left open");
        return v.text();
      },
      plan_for(error, 1));
  EXPECT_TRUE(report.passed()) << report.describe();
  EXPECT_EQ(check_calls(report, error, 1), "");
}

}  // namespace
