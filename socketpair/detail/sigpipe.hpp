// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Writing to a pair whose peer is gone must fail with EPIPE, never raise SIGPIPE, and the
// library must not change the process's signal dispositions to get there. Two mechanisms,
// chosen at compile time. Nothing here is part of the public interface.
//
// - MSG_NOSIGNAL, a flag on every send (`no_sigpipe`): Linux, FreeBSD, NetBSD, OpenBSD,
//   DragonFly, illumos, and macOS 11 and later. On macOS, xnu's <sys/socket.h> has defined it
//   since xnu-7195 (macOS 11), and only when `__DARWIN_C_LEVEL >= 200809L`: the default, and
//   also with _POSIX_C_SOURCE >= 200809L; a lower _POSIX_C_SOURCE without _DARWIN_C_SOURCE
//   hides it.
// - SO_NOSIGPIPE, an option on the socket (`suppress_sigpipe`): where MSG_NOSIGNAL is missing,
//   i.e. macOS 10.15 and earlier (xnu has had SO_NOSIGPIPE since macOS 10.2). It is set on
//   both ends by `socket_pair::create` and on every descriptor `socket::adopt` takes. On Linux
//   this branch is not compiled, and so not tested (docs/platforms.md).
// With neither visible (macOS with _POSIX_C_SOURCE < 200809L and no _DARWIN_C_SOURCE) the
// header refuses to compile rather than let a send raise SIGPIPE.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/result.hpp>

#include <sys/socket.h>

namespace sockpair::detail {

/// setsockopt(2) of an int option to 1 (the SO_NOSIGPIPE mechanism, kept apart from it so that
/// it can be tested where SO_NOSIGPIPE does not exist).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> set_flag_option(int fd, int level, int name) noexcept {
  const int on = 1;
  return check(::setsockopt(fd, level, name, &on, sizeof on));
}

#if defined(MSG_NOSIGNAL)
/// Passed with every send.
inline constexpr int no_sigpipe = MSG_NOSIGNAL;
inline constexpr bool sigpipe_needs_socket_option = false;

/// Nothing to do: every send passes MSG_NOSIGNAL.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] inline result<void> suppress_sigpipe(int /*fd*/) noexcept {
  return success();
}
#elif defined(SO_NOSIGPIPE)
inline constexpr int no_sigpipe = 0;
inline constexpr bool sigpipe_needs_socket_option = true;

/// SO_NOSIGPIPE on `fd`: a send to a peer that is gone fails with EPIPE and raises nothing.
/// Errors: setsockopt(2)'s (EBADF, ENOTSOCK, ...).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> suppress_sigpipe(int fd) noexcept {
  return set_flag_option(fd, SOL_SOCKET, SO_NOSIGPIPE);
}
#else
#error \
    "sockpair: neither MSG_NOSIGNAL nor SO_NOSIGPIPE is visible, so a send could raise SIGPIPE (on macOS, define _DARWIN_C_SOURCE or _POSIX_C_SOURCE >= 200809L)"
#endif

}  // namespace sockpair::detail
