// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// What TIPC pairs need beyond AF_UNIX's I/O plumbing. Measured on Linux 6.1 and 6.12 under
// tools/vm: TIPC's recvmsg(2) refuses an empty buffer (EINVAL) and reports no size beyond
// what it copied (MSG_TRUNC without the real length); a connected socket's receive fails with
// ECONNRESET, every time, once the peer has closed and everything it sent was received, and
// with ENOTCONN after this end's own shutdown; shutdown(2) accepts only SHUT_RDWR, and only on
// stream and seqpacket sockets. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/io.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/tags.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <new>

namespace sockpair::detail {

/// TIPC's largest user message, TIPC_MAX_USER_MSG_SIZE (<linux/tipc.h>).
inline constexpr std::size_t tipc_max_message_size = 66'000;

/// On a TIPC socket, a receive error that means no more data can arrive: ECONNRESET (the
/// peer closed; TIPC queues the reset behind the last message) or ENOTCONN (this end shut
/// down). AF_UNIX reports the end of the stream there.
[[nodiscard]] inline bool tipc_error_means_end(int error) noexcept {
  return error == ECONNRESET || error == ENOTCONN;
}

/// `peek_next_message` for TIPC: waits for the next message and returns its size, consuming
/// nothing; at the end of the stream fails with `errc::unexpected_eof`. TIPC delivers no
/// empty message (its recvmsg steps over them), so a 0 can only be the end. With `exact`,
/// the message is peeked whole into a 66,000-byte heap buffer (ENOMEM if that fails), the
/// only way to learn its size; otherwise a 1-byte peek tells only whether one is there.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::size_t> tipc_peek_next_message(int fd, bool exact) noexcept {
  std::byte first{};
  std::byte* buffer = &first;
  std::size_t capacity = 1;
  if (exact) {
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): deleted below, on every path
    buffer = new (std::nothrow) std::byte[tipc_max_message_size];
    if (buffer == nullptr) {
      return errno_code(ENOMEM);
    }
    capacity = tipc_max_message_size;
  }
  iovec iov{buffer, capacity};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t n = recvmsg_restarting(fd, &msg, MSG_PEEK);
  const int error = errno;
  if (exact) {
    delete[] buffer;  // NOLINT(cppcoreguidelines-owning-memory): allocated above
  }
  if (n < 0) {
    return tipc_error_means_end(error) ? make_error_code(errc::unexpected_eof) : errno_code(error);
  }
  if (n == 0) {
    return make_error_code(errc::unexpected_eof);
  }
  return static_cast<std::size_t>(n);
}

/// Called only where a TIPC shutdown other than `both` is asked for: not constexpr, so the
/// consteval constructor below fails to compile with this name in the message.
inline void tipc_shuts_down_both_directions_only() noexcept {}

/// The argument of a TIPC socket's shutdown(): only `How::both`, checked at compile time
/// (TIPC's shutdown(2) fails with EINVAL for SHUT_RD and SHUT_WR).
template <class How>
struct both_directions_only {
  How how;
  // NOLINTNEXTLINE(google-explicit-constructor): converts from shutdown_how::both, as intended
  consteval both_directions_only(How h) : how(h) {
    if (h != How::both) {
      tipc_shuts_down_both_directions_only();
    }
  }
};

/// A TIPC dgram or rdm socket cannot shut down at all (the kernel: ENOTCONN).
template <class Type, class Domain>
inline constexpr bool tipc_dgram_and_rdm_cannot_shut_down =
    std::same_as<Domain, tipc_domain>&& Type::message_oriented && !std::same_as<Type, seqpacket>;

}  // namespace sockpair::detail
