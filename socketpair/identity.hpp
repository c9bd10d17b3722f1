// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Identity that cannot be recycled: pidfds (Linux >= 6.5). A pid is a number the kernel hands
// to the next process once the first is reaped, so a check made on a pid can end up about
// another process (dbus-broker#312). A pidfd names one process for as long as it is open:
// poll(2) it to learn that the process exited, pidfd_send_signal(2) it, read its pid from
// /proc/self/fdinfo (-1 once it is gone).
//
//   auto who = sockpair::peer_pidfd(sock);        // the pair's creator, as a pidfd
//   auto on = sockpair::set_receive_pidfd(sock, true);
//   sockpair::unique_fd sender;
//   auto got = sockpair::receive_with_fds<1>(sock, buffer, {.sender_pidfd = &sender});
//   // sender: the process that sent this message
//
// The pid in `credentials` stays what it was, informational: the types keep the two apart.
// Before Linux 6.5 each call fails with `errc::not_supported_by_kernel` (equal to
// std::errc::not_supported), the point at which a caller falls back to credentials. Linux only:
// elsewhere nothing here is declared.
#pragma once

#include <socketpair/ancillary.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/options.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <sys/socket.h>

namespace sockpair {

#if defined(__linux__)

namespace detail {
// Kernel ABI (<asm-generic/socket.h>, Linux 6.5); glibc 2.36's headers predate them.
inline constexpr int so_passpidfd = 76;
inline constexpr int so_peerpidfd = 77;
}  // namespace detail

/// The process recorded for the other end when the connection was made (SO_PEERPIDFD), as
/// an owned, close-on-exec pidfd: for a pair from socketpair(2), the process that called it
/// (as `peer_credentials` reports its pid). Unlike that pid, the pidfd cannot come to name
/// another process. Linux >= 6.5.
///
/// Errors: `errc::not_supported_by_kernel` before Linux 6.5 (ENOPROTOOPT); when the recorded
/// process has exited and been reaped, the kernel's answer varies by release (ESRCH or
/// EINVAL, or a pidfd that reports the process gone); EMFILE when this process has no free
/// descriptor number; EBADF for an empty socket.
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<unique_fd> peer_pidfd(const socket<Type, Domain>& sock) noexcept {
  auto pidfd = detail::get_new_int_option(sock.native_handle(), SOL_SOCKET, detail::so_peerpidfd);
  if (!pidfd) {
    return pidfd.assume_error();
  }
  return unique_fd(pidfd.assume_value());
}

/// Turns SO_PASSPIDFD on or off: while on, each message `receive_with_fds` takes from `sock`
/// comes with its sender as a pidfd (SCM_PIDFD), handed to the `unique_fd` that
/// `fd_receive_options::sender_pidfd` points to (closed when it is null). The receives that
/// take no descriptors (`socket::receive`, ...) close it. Linux >= 6.5; before
/// that, `errc::not_supported_by_kernel`.
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<void> set_receive_pidfd(socket<Type, Domain>& sock, bool enabled) noexcept {
  return detail::set_new_int_option(sock.native_handle(), SOL_SOCKET, detail::so_passpidfd,
                                    enabled ? 1 : 0);
}

#endif

}  // namespace sockpair
