// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Out-of-band data on an AF_UNIX stream (MSG_OOB, Linux >= 5.15 built with
// CONFIG_AF_UNIX_OOB): one urgent byte that overtakes the bytes queued before it, as TCP's
// urgent data does. The kernel's selftest (tools/testing/selftests/net/af_unix/msg_oob.c) is
// the reference for what follows; tests/io/out_of_band_test.cpp pins each rule:
//
// - The urgent byte is kept apart: ordinary receives never return it and stop at its place in
//   the stream (the mark); `at_out_of_band_mark` is true once every byte before it was read.
// - `receive_out_of_band` takes it, once. With none pending (never sent, already taken, or
//   inline) it fails with EINVAL (std::errc::invalid_argument); it never waits.
// - Take it before reading past the mark: an ordinary receive made while the urgent byte is
//   next in the stream drops it (the selftest's oob_drop). With only that byte queued, a
//   non-blocking receive then fails with EAGAIN (never a 0 that would read as the end).
// - With `set_out_of_band_inline(true)` (SO_OOBINLINE) the byte stays in the stream, read by
//   ordinary receives in its place.
//
// Kernels without the feature answer EOPNOTSUPP: `errc::not_supported_by_kernel` here (equal
// to std::errc::not_supported). Stream pairs only (seqpacket and dgram have no out-of-band
// data, and the calls do not compile for them); Linux only.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/options.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace sockpair {

#if defined(__linux__)

namespace detail {
// EOPNOTSUPP (and, for the ioctl, ENOTTY) from a kernel without CONFIG_AF_UNIX_OOB or older
// than 5.15: the feature is missing, not the call wrong.
[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code out_of_band_error(int err) noexcept {
  if (err == EOPNOTSUPP || err == ENOTTY) {
    return make_error_code(errc::not_supported_by_kernel);
  }
  return errno_code(err);
}
}  // namespace detail

/// Sends `byte` as the urgent byte (one send(2) with MSG_OOB): it overtakes the bytes queued
/// before it, which the peer still receives in order. A second urgent byte sent before the
/// first was taken replaces it as the one `receive_out_of_band` returns (the kernel's
/// handling of the older one has changed between releases: do not rely on it).
/// Errors: `errc::not_supported_by_kernel` (EOPNOTSUPP: Linux < 5.15 or no
/// CONFIG_AF_UNIX_OOB); EPIPE (never SIGPIPE) when the peer is gone; EAGAIN on a full
/// non-blocking socket.
[[nodiscard]] inline result<void> send_out_of_band(socket<stream, unix_domain>& sock,
                                                   std::byte byte) noexcept {
  const ssize_t n = detail::send_restarting(
      sock.native_handle(), std::span<const std::byte>(&byte, 1), 0, MSG_OOB | detail::no_sigpipe);
  if (n < 0) {
    return detail::out_of_band_error(errno);
  }
  return success();
}

/// Takes the pending urgent byte (recv(2) with MSG_OOB); never waits. Errors: EINVAL
/// (std::errc::invalid_argument) when none is pending: none sent, already taken, or
/// `set_out_of_band_inline` on; `errc::not_supported_by_kernel` as for `send_out_of_band`.
[[nodiscard]] inline result<std::byte> receive_out_of_band(
    socket<stream, unix_domain>& sock) noexcept {
  std::byte byte{};
  const ssize_t n = detail::recv_restarting(sock.native_handle(), std::span(&byte, 1), 0, MSG_OOB);
  if (n < 0) {
    return detail::out_of_band_error(errno);
  }
  if (n == 0) {
    return errno_code(EINVAL);  // no byte: nothing pending (not the end of the stream)
  }
  return byte;
}

/// SIOCATMARK: true when the next ordinary byte to read is where the urgent byte was sent,
/// i.e. every byte sent before it has been read. Errors: `errc::not_supported_by_kernel`.
[[nodiscard]] inline result<bool> at_out_of_band_mark(
    const socket<stream, unix_domain>& sock) noexcept {
  int mark = 0;
  if (::ioctl(sock.native_handle(), SIOCATMARK, &mark) != 0) {
    return detail::out_of_band_error(errno);
  }
  return mark != 0;
}

/// SO_OOBINLINE: when on, an urgent byte stays in the stream and ordinary receives return it
/// in its place; `receive_out_of_band` then fails with EINVAL.
[[nodiscard]] inline result<void> set_out_of_band_inline(socket<stream, unix_domain>& sock,
                                                         bool on) noexcept {
  return detail::set_int_option(sock.native_handle(), SOL_SOCKET, SO_OOBINLINE, on ? 1 : 0);
}

/// Whether SO_OOBINLINE is on.
[[nodiscard]] inline result<bool> out_of_band_inline(
    const socket<stream, unix_domain>& sock) noexcept {
  int value = 0;
  if (detail::get_int_option(sock.native_handle(), SOL_SOCKET, SO_OOBINLINE, value) != 0) {
    return last_errno_code();
  }
  return value != 0;
}

#endif

}  // namespace sockpair
