// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Many whole messages per system call on seqpacket and dgram sockets: `send_batch` and
// `receive_batch` (sendmmsg(2)/recvmmsg(2) on Linux). The caller owns every buffer; nothing is
// allocated.
//
//   std::array<std::span<const std::byte>, 3> out{a, b, c};
//   auto sent = sockpair::send_batch(sock, out);   // k of 3 sent; resume from out[k]
//
//   std::array<std::span<std::byte>, 16> in = ...;   // one buffer per message
//   std::array<sockpair::message_info, 16> info;
//   auto got = sockpair::receive_batch(peer, in, info);   // waits for one, takes what is queued
//
// Elsewhere than Linux the same calls loop over sendmsg(2)/recvmsg(2): same results, one
// system call per message.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/control.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/detail/sizes.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>

namespace sockpair {

/// The most messages one `send_batch` or `receive_batch` call moves: Linux's UIO_MAXIOV,
/// the kernel's own cap on sendmmsg(2)/recvmmsg(2). Longer spans are not an error: the call
/// moves the first `max_batch_size` messages and says so in its count.
inline constexpr std::size_t max_batch_size = 1024;

namespace detail {

// Messages per system call. The mmsghdr and iovec arrays live on the stack (80 bytes per
// message on LP64, and on receipt `batch_control_space` more), so this bounds the stack a
// batch call uses to about 13 KiB.
inline constexpr std::size_t batch_chunk = 64;

// Control space per received message: a timestamp, credentials, one descriptor and a pidfd,
// so that a message carrying descriptors is seen to (they are closed and flagged). Less than
// a plain receive offers (detail/control.hpp), to keep the stack small: with SO_TIMESTAMPING
// or a security label also on, a message may be flagged as having carried descriptors when
// it did not (never the reverse).
inline constexpr std::size_t batch_control_space =
    cmsg_space(16) + cmsg_space(sizeof(wire_credentials)) + 2 * cmsg_space(sizeof(int));

// The portable implementation: one sendmsg(2)/recvmsg(2) per message, with the semantics of
// the Linux one below. Used where sendmmsg/recvmmsg do not exist (and by the tests).
// (Templates, like everything in these headers, so that they cost nothing until used: see
// detail/io.hpp.)
template <class = void>
struct basic_batch_per_message {
  [[nodiscard]] static result<std::size_t> send(
      int fd, std::span<const std::span<const std::byte>> messages) noexcept {
    const std::size_t total = smaller_of(messages.size(), max_batch_size);
    std::size_t done = 0;
    for (; done < total; ++done) {
      auto sent = send_some(fd, messages[done]);
      if (!sent) {
        if (done == 0) {
          return sent.assume_error();
        }
        break;
      }
    }
    return done;
  }

  [[nodiscard]] static result<std::size_t> receive(int fd,
                                                   std::span<const std::span<std::byte>> buffers,
                                                   std::span<message_info> results) noexcept {
    if (results.size() < buffers.size()) {
      return errno_code(EINVAL);
    }
    const std::size_t total = smaller_of(buffers.size(), max_batch_size);
    std::size_t done = 0;
    for (; done < total; ++done) {
      auto got = receive_one_message(fd, buffers[done], done == 0 ? 0 : MSG_DONTWAIT);
      if (!got) {
        if (done == 0) {
          return got.assume_error();
        }
        break;
      }
      const message_extent& extent = got.assume_value();
      results[done] =
          message_info{extent.stored, extent.message_size, false, extent.descriptors_discarded};
    }
    return done;
  }
};
using batch_per_message = basic_batch_per_message<>;

#if defined(__linux__)
// sendmmsg(2)/recvmmsg(2): up to `batch_chunk` messages per system call.
template <class = void>
struct basic_batch_syscalls {
  [[nodiscard]] static result<std::size_t> send(
      int fd, std::span<const std::span<const std::byte>> messages) noexcept {
    const std::size_t total = smaller_of(messages.size(), max_batch_size);
    std::size_t done = 0;
    while (done < total) {
      const std::size_t count = smaller_of(total - done, batch_chunk);
      // Left uninitialised on purpose: the loop below fills the `count` entries the call uses.
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
      std::array<mmsghdr, batch_chunk> headers;
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
      std::array<iovec, batch_chunk> parts;
      for (std::size_t i = 0; i < count; ++i) {
        const auto message = messages[done + i];
        parts[i] = iovec{const_cast<std::byte*>(message.data()), message.size()};
        headers[i] = mmsghdr{};
        headers[i].msg_hdr.msg_iov = &parts[i];
        headers[i].msg_hdr.msg_iovlen = 1;
      }
      const int sent = retry_socket_call(fd, POLLOUT, [&](int extra) {
        return ::sendmmsg(fd, headers.data(), static_cast<unsigned>(count), no_sigpipe | extra);
      });
      if (sent < 0) {
        if (done == 0) {
          return last_errno_code();
        }
        break;
      }
      done += static_cast<std::size_t>(sent);
      if (static_cast<std::size_t>(sent) < count) {
        break;
      }
    }
    return done;
  }

  [[nodiscard]] static result<std::size_t> receive(int fd,
                                                   std::span<const std::span<std::byte>> buffers,
                                                   std::span<message_info> results) noexcept {
    if (results.size() < buffers.size()) {
      return errno_code(EINVAL);
    }
    const std::size_t total = smaller_of(buffers.size(), max_batch_size);
    std::size_t done = 0;
    while (done < total) {
      const std::size_t count = smaller_of(total - done, batch_chunk);
      // Left uninitialised on purpose: the loop below fills the `count` entries the call uses.
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
      std::array<mmsghdr, batch_chunk> headers;
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
      std::array<iovec, batch_chunk> parts;
      control_buffer<batch_chunk * batch_control_space> control;
      for (std::size_t i = 0; i < count; ++i) {
        const auto buffer = buffers[done + i];
        parts[i] = iovec{buffer.data(), buffer.size()};
        headers[i] = mmsghdr{};
        headers[i].msg_hdr.msg_iov = &parts[i];
        headers[i].msg_hdr.msg_iovlen = 1;
        headers[i].msg_hdr.msg_control = control.bytes.data() + i * batch_control_space;
        headers[i].msg_hdr.msg_controllen = batch_control_space;
      }
      // The first call waits for one message (MSG_WAITFORONE); later ones take only what is
      // queued. MSG_TRUNC makes msg_len the real length of a truncated message.
      const int flags = MSG_TRUNC | cmsg_cloexec | (done == 0 ? MSG_WAITFORONE : MSG_DONTWAIT);
      const int got = retry_socket_call(fd, POLLIN, [&](int extra) {
        return ::recvmmsg(fd, headers.data(), static_cast<unsigned>(count), flags | extra, nullptr);
      });
      if (got < 0) {
        if (done == 0) {
          return last_errno_code();
        }
        break;  // nothing more queued; a real error stays with the socket for the next call
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
        const std::size_t length = headers[i].msg_len;
        const std::size_t room = parts[i].iov_len;
        // With MSG_TRUNC, Linux reports the real length: truncated exactly when it exceeds
        // the room.
        msghdr& header = headers[i].msg_hdr;
        const bool discarded = has_control_data(header) && discard_unwanted_control(header);
        results[done + i] = message_info{smaller_of(length, room), length, false, discarded};
      }
      done += static_cast<std::size_t>(got);
      if (static_cast<std::size_t>(got) < count) {
        break;
      }
    }
    return done;
  }
};
using batch_syscalls = basic_batch_syscalls<>;
using batch_io = batch_syscalls;
#else
using batch_io = batch_per_message;
#endif

}  // namespace detail

/// Sends `messages[0..]` in order, each as one whole message, and returns how many went out:
/// `k` means `messages[0..k)` were sent and none after, so
/// `send_batch(s, messages.subspan(k))` resumes without repeating or skipping a message.
///
/// `k` is less than `messages.size()` when the call reached `max_batch_size`, when a
/// non-blocking socket's buffer filled, or when the kernel refused message `k` (too large,
/// peer gone): such an error is reported by the next call, which starts with that message.
/// Fails (with the kernel's error, e.g. `operation_would_block`, EMSGSIZE, EPIPE) only when
/// not one message was sent. An empty span returns 0. A blocking socket blocks as `send()`
/// does, for each message in turn. Never raises SIGPIPE.
template <message_socket_type Type, socket_domain Domain>
[[nodiscard]] result<std::size_t> send_batch(
    socket<Type, Domain>& sender, std::span<const std::span<const std::byte>> messages) noexcept {
  return detail::batch_io::send(sender.native_handle(), messages);
}

/// Receives up to `buffers.size()` messages, message `i` into `buffers[i]`, and returns how
/// many arrived; `results[i]` then describes message `i` as `socket::receive_message` does:
/// `stored` bytes of it are in `buffers[i]`, `size` is its real size, and `truncated()` says
/// its tail was cut off because `buffers[i]` was too small (that tail is gone: messages are
/// never split across buffers). A truncated message is not an error. `end_of_stream` is
/// always false here (see below). A message that carried descriptors has them closed and
/// `descriptors_discarded` set (see `batch_control_space` for when that errs on the safe
/// side).
///
/// Waits (on a blocking socket) for the first message only, then takes those already queued:
/// the count may be anything from 1 to the batch size. A non-blocking socket with nothing
/// queued fails with `operation_would_block`. Moves at most `max_batch_size` messages.
/// Fails with EINVAL when `results` is shorter than `buffers`.
///
/// End of stream: a seqpacket socket whose peer has shut down reads as empty messages, as
/// with recv(2), and the kernel fills every remaining slot with them; AF_UNIX cannot tell an
/// empty seqpacket message from the end, so protocols that need the end should not send
/// empty messages. (A dgram pair has no end: it waits, or fails with `operation_would_block`.)
template <message_socket_type Type, socket_domain Domain>
[[nodiscard]] result<std::size_t> receive_batch(socket<Type, Domain>& receiver,
                                                std::span<const std::span<std::byte>> buffers,
                                                std::span<message_info> results) noexcept {
  return detail::batch_io::receive(receiver.native_handle(), buffers, results);
}

}  // namespace sockpair
