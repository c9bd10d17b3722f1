// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Plumbing shared by the public headers: EINTR retry and errno-to-result conversion.
// Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/deadline.hpp>
#include <socketpair/detail/sys.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <span>

namespace sockpair::detail {

/// Calls `f()` until it returns anything but a negative value with errno EINTR. For
/// blocking calls only: a call that must report EINTR to its caller does not go through here.
/// Socket calls that honour SO_RCVTIMEO/SO_SNDTIMEO use `retry_socket_call` below instead.
///
/// `inline` matters: a function template without it gets only GCC's small automatic-inlining
/// budget, and a call that stays a call costs ~25 instructions per syscall (benchmarks/
/// README.md, "Where the instructions go"). `rc < 0` lets the compiler merge this test with
/// the caller's own.
template <std::invocable F>
[[nodiscard]] inline auto retry_on_eintr(F&& f) noexcept(noexcept(f())) {
  for (;;) {
    auto rc = f();
    if (!(rc < 0 && errno == EINTR)) {
      return rc;
    }
  }
}

/// Finishes a socket call `f(extra_flags)` whose first attempt, `f(0)`, failed with EINTR.
/// Returns what the call finally returned: a count, or -1 with errno set (never EINTR).
///
/// Restarting a blocking call re-arms the kernel's SO_RCVTIMEO/SO_SNDTIMEO, so under a
/// steady stream of signals a plain restart would never time out. When the socket has a
/// timeout for `events` (POLLIN: receive, POLLOUT: send), the call is instead retried
/// with MSG_DONTWAIT, waiting in poll(2) in between, until it succeeds, fails otherwise, or
/// the timeout has passed since the interruption: then -1 with EAGAIN, as the kernel would.
/// (The kernel's own wait before the first signal is not known here, so the whole call
/// may take up to twice the timeout.) Without a timeout, the call is simply restarted.
template <class F>
[[gnu::cold, gnu::noinline]] auto finish_interrupted(int fd, short events, F f) noexcept
    -> decltype(f(0)) {
  timeval limit{};
  socklen_t length = sizeof limit;
  const int option = (events & POLLOUT) != 0 ? SO_SNDTIMEO : SO_RCVTIMEO;
  if (::getsockopt(fd, SOL_SOCKET, option, &limit, &length) != 0 ||
      (limit.tv_sec == 0 && limit.tv_usec == 0)) {
    return retry_on_eintr([&] { return f(0); });
  }
  // The kernel keeps timeouts far longer than steady_clock's range (292 years). Saturated,
  // such a timeout is none, and the call is simply restarted.
  deadline_time deadline = deadline_after(std::chrono::seconds(limit.tv_sec));
  if (deadline != no_deadline) {
    deadline = deadline_after(std::chrono::microseconds(limit.tv_usec), deadline);
  }
  if (deadline == no_deadline) {
    return retry_on_eintr([&] { return f(0); });
  }
  for (;;) {
    auto rc = f(MSG_DONTWAIT);
    if (rc >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return rc;
    }
    const int wait = milliseconds_left(deadline, deadline_clock::now());
    if (wait == 0) {
      errno = EAGAIN;
      return rc;
    }
    // Whatever poll(2) returns (ready, timed out, interrupted), the call above is tried again.
    pollfd p{fd, events, 0};
    static_cast<void>(::poll(&p, 1, wait));
  }
}

/// After send(2) or recv(2) of `data[offset..]` failed with `rc` (-errno): -1 with errno set,
/// and after EINTR the call finished as `finish_interrupted` says. Hot loops call these with
/// the values they hold anyway, and no lambda object in sight: anything computed for the
/// cold path would be kept live across the hot loop's system call, costing stack traffic
/// on every pass.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[gnu::cold, gnu::noinline]] ssize_t finish_failed_send(int fd, std::span<const std::byte> data,
                                                        std::size_t offset, int flags,
                                                        long rc) noexcept {
  if (rc != -EINTR) {
    return sys::as_libc(rc);
  }
  const std::byte* const from = data.data() + offset;
  const std::size_t size = data.size() - offset;
  return finish_interrupted(fd, POLLOUT, [=](int extra) {
    return sys::as_libc(sys::send(fd, from, size, flags | extra));
  });
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[gnu::cold, gnu::noinline]] ssize_t finish_failed_receive(int fd, std::span<std::byte> data,
                                                           std::size_t offset, int flags,
                                                           long rc) noexcept {
  if (rc != -EINTR) {
    return sys::as_libc(rc);
  }
  std::byte* const into = data.data() + offset;
  const std::size_t size = data.size() - offset;
  return finish_interrupted(fd, POLLIN, [=](int extra) {
    return sys::as_libc(sys::recv(fd, into, size, flags | extra));
  });
}

/// The same for sendmsg(2) and recvmsg(2). (The cold path takes only what the caller holds
/// anyway; see above.)
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[gnu::cold, gnu::noinline]] ssize_t finish_failed_sendmsg(int fd, const msghdr* msg, int flags,
                                                           long rc) noexcept {
  if (rc != -EINTR) {
    return sys::as_libc(rc);
  }
  return finish_interrupted(
      fd, POLLOUT, [=](int extra) { return sys::as_libc(sys::sendmsg(fd, msg, flags | extra)); });
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[gnu::cold, gnu::noinline]] ssize_t finish_failed_recvmsg(int fd, msghdr* msg, int flags,
                                                           long rc) noexcept {
  if (rc != -EINTR) {
    return sys::as_libc(rc);
  }
  return finish_interrupted(
      fd, POLLIN, [=](int extra) { return sys::as_libc(sys::recvmsg(fd, msg, flags | extra)); });
}

/// send(2), recv(2), sendmsg(2) and recvmsg(2) as the library makes every blocking call:
/// one system call (detail/sys.hpp), and after EINTR `finish_interrupted` (restarted, the
/// socket's timeout still counting). A count, or -1 with errno set (never EINTR). send/recv
/// take `data[offset..]`, so that a loop passes what it holds.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard, gnu::always_inline]] inline ssize_t send_restarting(int fd,
                                                                 std::span<const std::byte> data,
                                                                 std::size_t offset,
                                                                 int flags) noexcept {
  const long rc = sys::send(fd, data.data() + offset, data.size() - offset, flags);
  if (rc < 0) [[unlikely]] {
    return finish_failed_send(fd, data, offset, flags, rc);
  }
  return rc;
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard, gnu::always_inline]] inline ssize_t recv_restarting(int fd, std::span<std::byte> data,
                                                                 std::size_t offset,
                                                                 int flags) noexcept {
  const long rc = sys::recv(fd, data.data() + offset, data.size() - offset, flags);
  if (rc < 0) [[unlikely]] {
    return finish_failed_receive(fd, data, offset, flags, rc);
  }
  return rc;
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard, gnu::always_inline]] inline ssize_t sendmsg_restarting(int fd, const msghdr* msg,
                                                                    int flags) noexcept {
  const long rc = sys::sendmsg(fd, msg, flags);
  if (rc < 0) [[unlikely]] {
    return finish_failed_sendmsg(fd, msg, flags, rc);
  }
  return rc;
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard, gnu::always_inline]] inline ssize_t recvmsg_restarting(int fd, msghdr* msg,
                                                                    int flags) noexcept {
  const long rc = sys::recvmsg(fd, msg, flags);
  if (rc < 0) [[unlikely]] {
    return finish_failed_recvmsg(fd, msg, flags, rc);
  }
  return rc;
}

/// Calls the socket call `f(0)` and, should a signal interrupt it, finishes it as
/// `finish_interrupted` says: EINTR never comes back, and the socket's timeout for `events`
/// still holds. `f` takes flags to add to the call's own (MSG_DONTWAIT, after a signal).
template <class F>
[[nodiscard]] inline auto retry_socket_call(int fd, short events, F&& f) noexcept
    -> decltype(f(0)) {
  auto rc = f(0);
  if (rc < 0 && errno == EINTR) [[unlikely]] {
    return finish_interrupted(fd, events, f);
  }
  return rc;
}

/// Built out of line: constructing an error touches its category's function-local static,
/// which would otherwise sit in (and bloat) every hot loop that can fail this way.
[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code unexpected_eof_error() noexcept {
  return make_error_code(errc::unexpected_eof);
}

[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code io_error() noexcept {
  return errno_code(EIO);
}

[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code
descriptors_discarded_error() noexcept {
  return make_error_code(errc::descriptors_discarded);
}

[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code invalid_argument_error() noexcept {
  return errno_code(EINVAL);
}

/// A syscall's "-1 and errno" convention as a `result<void>`.
[[nodiscard]] inline result<void> check(int rc) noexcept {
  if (rc == -1) {
    return last_errno_code();
  }
  return success();
}

}  // namespace sockpair::detail
