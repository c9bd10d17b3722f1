// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Typed wrappers over getsockopt/setsockopt, fcntl and ioctl for socket's option members.
// Not part of the public interface.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/deadline.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include <cerrno>
#include <climits>
#include <cstddef>
#include <optional>
#include <system_error>

namespace sockpair::detail {

/// getsockopt(2) of an `int` option into `value`.
inline int get_int_option(int fd, int level, int name, int& value) noexcept {
  socklen_t len = sizeof value;
  return ::getsockopt(fd, level, name, &value, &len);
}

/// setsockopt(2) of an `int` option.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> set_int_option(int fd, int level, int name, int value) noexcept {
  return check(::setsockopt(fd, level, name, &value, sizeof value));
}

/// Success when `fd` is a socket of type `type` in address family `family`; otherwise
/// `errc::wrong_socket_kind` (no socket at all included), or the errno (EBADF).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> check_socket_kind(int fd, int type, int family) noexcept {
  int actual_type = 0;
  if (get_int_option(fd, SOL_SOCKET, SO_TYPE, actual_type) != 0) {
    return errno == ENOTSOCK ? make_error_code(errc::wrong_socket_kind) : last_errno_code();
  }
#if defined(SO_DOMAIN)
  int actual_family = 0;
  if (get_int_option(fd, SOL_SOCKET, SO_DOMAIN, actual_family) != 0) {
    return last_errno_code();
  }
#else
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return last_errno_code();
  }
  const int actual_family = address.ss_family;
#endif
  if (actual_type != type || actual_family != family) {
    return make_error_code(errc::wrong_socket_kind);
  }
  return success();
}

/// Success when `fd` is a connected end: not listening (SO_ACCEPTCONN), and, when
/// `has_peer` asks, with a peer that getpeername(2) reports. A listening socket is
/// `errc::wrong_socket_kind`; a socket without a peer, ENOTCONN.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> check_connected_end(int fd, bool has_peer) noexcept {
#if defined(SO_ACCEPTCONN)
  int listening = 0;
  if (get_int_option(fd, SOL_SOCKET, SO_ACCEPTCONN, listening) != 0) {
    return last_errno_code();
  }
  if (listening != 0) {
    return make_error_code(errc::wrong_socket_kind);
  }
#endif
  if (has_peer) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
      return last_errno_code();
    }
  }
  return success();
}

/// SO_ERROR: the pending error, cleared as it is read; empty when there is none.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::optional<std::error_code>> take_socket_error(int fd) noexcept {
  // std::optional<std::error_code> is made from a std::error_code too, so result's implicit
  // constructors are off: value and error are each named.
  using pending = std::optional<std::error_code>;
  int value = 0;
  if (get_int_option(fd, SOL_SOCKET, SO_ERROR, value) != 0) {
    return result<pending>(outcome::in_place_type<std::error_code>, last_errno_code());
  }
  if (value == 0) {
    return result<pending>(outcome::in_place_type<pending>);
  }
  return result<pending>(outcome::in_place_type<pending>, errno_code(value));
}

/// SO_SNDBUF / SO_RCVBUF from a byte count; EINVAL past INT_MAX.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> set_buffer_size(int fd, int name, std::size_t bytes) noexcept {
  if (bytes > static_cast<std::size_t>(INT_MAX)) {
    return errno_code(EINVAL);
  }
  return set_int_option(fd, SOL_SOCKET, name, static_cast<int>(bytes));
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::size_t> get_buffer_size(int fd, int name) noexcept {
  int value = 0;
  if (get_int_option(fd, SOL_SOCKET, name, value) != 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(value);
}

/// SO_SNDTIMEO / SO_RCVTIMEO from a duration of any type, rounded up to microseconds; zero
/// means none (block indefinitely), and so does a duration too long for microseconds
/// (292,000 years). Negative (or NaN): EINVAL.
template <class Rep, class Period>
[[nodiscard]] result<void> set_timeout(int fd, int name,
                                       std::chrono::duration<Rep, Period> timeout) noexcept {
  if (!(timeout >= timeout.zero())) {
    return errno_code(EINVAL);
  }
  auto micros = saturating_ceil<std::chrono::microseconds>(timeout);
  if (micros == std::chrono::microseconds::max() &&
      !(timeout <= std::chrono::duration<long double, std::micro>(micros))) {
    micros = std::chrono::microseconds::zero();  // saturated: too long to say, so none
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(micros);
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(seconds.count());
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((micros - seconds).count());
  return check(::setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv));
}

/// The timeout `name` in microseconds; one the kernel keeps longer than that holds (it rounds
/// up to its clock tick) saturates at microseconds::max().
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::chrono::microseconds> get_timeout(int fd, int name) noexcept {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (::getsockopt(fd, SOL_SOCKET, name, &tv, &len) != 0) {
    return last_errno_code();
  }
  const auto whole = saturating_ceil<std::chrono::microseconds>(std::chrono::seconds(tv.tv_sec));
  const std::chrono::microseconds part(tv.tv_usec);  // < 1 s
  if (whole > std::chrono::microseconds::max() - part) {
    return std::chrono::microseconds::max();
  }
  return whole + part;
}

/// Sets or clears `flag` in the F_GETFL (`get` F_GETFL, `set` F_SETFL) or F_GETFD set.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> set_fcntl_flag(int fd, int get, int set, int flag, bool on) noexcept {
  const int flags = ::fcntl(fd, get);
  if (flags == -1) {
    return last_errno_code();
  }
  const int wanted = on ? (flags | flag) : (flags & ~flag);
  if (wanted == flags) {
    return success();
  }
  return check(::fcntl(fd, set, wanted));
}

template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<bool> get_fcntl_flag(int fd, int get, int flag) noexcept {
  const int flags = ::fcntl(fd, get);
  if (flags == -1) {
    return last_errno_code();
  }
  return (flags & flag) != 0;
}

/// An ioctl(2) that reports a count in an `int` (FIONREAD, SIOCOUTQ).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::size_t> ioctl_count(int fd, unsigned long request) noexcept {
  int value = 0;
  if (::ioctl(fd, request, &value) != 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(value);
}

/// The error for a call that failed with `err` where a kernel without the feature answers
/// ENOPROTOOPT (an unknown socket option): `errc::not_supported_by_kernel` then, otherwise
/// the errno.
[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code kernel_feature_error(
    int err) noexcept {
  if (err == ENOPROTOOPT) {
    return make_error_code(errc::not_supported_by_kernel);
  }
  return errno_code(err);
}

/// setsockopt(2) of an `int` option a kernel may not have yet (see `kernel_feature_error`).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> set_new_int_option(int fd, int level, int name, int value) noexcept {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return kernel_feature_error(errno);
  }
  return success();
}

/// getsockopt(2) of an `int` option a kernel may not have yet (see `kernel_feature_error`).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<int> get_new_int_option(int fd, int level, int name) noexcept {
  int value = 0;
  if (get_int_option(fd, level, name, value) != 0) {
    return kernel_feature_error(errno);
  }
  return value;
}

/// The ioctl for bytes written but not yet read by the peer.
#if defined(SIOCOUTQ)
inline constexpr unsigned long unsent_request = SIOCOUTQ;
#elif defined(TIOCOUTQ)
inline constexpr unsigned long unsent_request = TIOCOUTQ;
#else
inline constexpr unsigned long unsent_request = 0;  // none: bytes_unsent() fails ENOTTY
#endif

}  // namespace sockpair::detail
