// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Control-message plumbing behind <socketpair/ancillary.hpp>: lays out SCM_RIGHTS and
// SCM_CREDENTIALS for sendmsg(2), and takes ownership of everything recvmsg(2) delivers.
// Nothing here is part of the public interface.
//
// Both directions sit on the path of every message that carries descriptors, so they cost
// what a careful hand-written sendmsg/recvmsg costs: control buffers are left uninitialised
// (only the bytes that go out are written; the kernel fills what comes in), descriptors are
// copied once, and every error is built out of line.
#pragma once

#include <socketpair/borrowed_fd.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/control.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/detail/sizes.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>
#include <type_traits>

namespace sockpair::detail {

/// The most descriptors one sendmsg(2) may carry: Linux's SCM_MAX_FD (253). sendmsg fails
/// with EINVAL past it, whether they come in one SCM_RIGHTS message or several.
inline constexpr std::size_t scm_max_fd = 253;

/// Control space for sending `fds` descriptors and, optionally, credentials.
[[nodiscard]] constexpr std::size_t send_control_space(std::size_t fds, bool credentials) noexcept {
  std::size_t space = fds == 0 ? 0 : cmsg_space(fds * sizeof(int));
  if constexpr (has_scm_credentials) {
    space += credentials ? cmsg_space(sizeof(wire_credentials)) : 0;
  }
  return space;
}

// Errors, built out of line: the category lookups behind them would otherwise sit in the
// middle of every send and receive, and keep the callers too big to inline.
[[gnu::cold, gnu::noinline]] inline std::error_code ancillary_error(errc e) noexcept {
  return make_error_code(e);
}
[[gnu::cold, gnu::noinline]] inline std::error_code ancillary_errno(int value) noexcept {
  return errno_code(value);
}
[[gnu::cold, gnu::noinline]] inline std::error_code ancillary_errno() noexcept {
  return last_errno_code();
}

/// The descriptor a span element stands for.
[[nodiscard]] constexpr int raw_fd(int fd) noexcept { return fd; }
[[nodiscard]] constexpr int raw_fd(const unique_fd& fd) noexcept { return fd.get(); }
[[nodiscard]] constexpr int raw_fd(borrowed_fd fd) noexcept { return fd.get(); }

/// Writes the descriptors `fds` stands for to `out` as ints (unaligned), in order.
template <class Fd>
inline void store_fds(std::byte* out, std::span<const Fd> fds) noexcept {
  // (A borrowed_fd is an int in its object representation: the same copy serves it.)
  if constexpr (std::is_same_v<Fd, int> || std::is_same_v<Fd, borrowed_fd>) {
    if (fds.size() > 4) {  // past a few, one call copies them faster than the loop below
      std::memcpy(out, fds.data(), fds.size_bytes());
      return;
    }
  }
  // An odd one first, then two at a time: compilers turn each pair into one 8-byte copy.
  std::size_t i = 0;
  if (fds.size() % 2 != 0) {
    const int fd = raw_fd(fds[0]);
    std::memcpy(out, &fd, sizeof fd);
    i = 1;
  }
  for (; i < fds.size(); i += 2) {
    const int first = raw_fd(fds[i]);
    const int second = raw_fd(fds[i + 1]);
    std::memcpy(out + i * sizeof(int), &first, sizeof(int));
    std::memcpy(out + (i + 1) * sizeof(int), &second, sizeof(int));
  }
}

/// Starts a SOL_SOCKET control message of `type` with `payload` bytes at `at` (aligned for
/// cmsghdr, `cmsg_space(payload)` bytes of room) and returns where the payload goes. The
/// padding after the payload is zeroed here; the caller writes the payload.
[[nodiscard]] inline std::byte* begin_control_message(std::byte* at, int type,
                                                      std::size_t payload) noexcept {
  // The padding is shorter than the alignment, so it lies in the message's last
  // sizeof(size_t) bytes: zero those first, then write the header and the payload over them.
  std::memset(at + cmsg_space(payload) - sizeof(std::size_t), 0, sizeof(std::size_t));
  auto* header = reinterpret_cast<cmsghdr*>(at);
  header->cmsg_len = CMSG_LEN(payload);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = type;
  return reinterpret_cast<std::byte*>(CMSG_DATA(header));
}

/// One sendmsg(2) of `data` with `fds` in an SCM_RIGHTS message and, when `credentials` is
/// not null, an SCM_CREDENTIALS message. Refuses, before any system call, more descriptors
/// than one message carries and (on a stream) ancillary data with no byte to carry it.
template <bool MessageOriented, class Fd>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_control(
    int socket_fd, std::span<const std::byte> data, std::span<const Fd> fds,
    const wire_credentials* credentials) noexcept {
  if (fds.size() > scm_max_fd) [[unlikely]] {
    return ancillary_error(errc::too_many_descriptors);
  }
  if constexpr (!has_scm_credentials) {
    if (credentials != nullptr) {
      return ancillary_errno(ENOTSUP);
    }
  }
  if (!MessageOriented && data.empty() && (!fds.empty() || credentials != nullptr)) [[unlikely]] {
    // A zero-byte stream send queues nothing, so the ancillary data would vanish.
    return ancillary_errno(EINVAL);
  }

  control_buffer<send_control_space(scm_max_fd, true)> control;
  std::size_t used = 0;
  if (!fds.empty()) {
    const std::size_t payload = fds.size() * sizeof(int);
    store_fds(begin_control_message(control.bytes.data(), SCM_RIGHTS, payload), fds);
    used = cmsg_space(payload);
  }
#if defined(__linux__)
  if (credentials != nullptr) {
    std::memcpy(
        begin_control_message(control.bytes.data() + used, SCM_CREDENTIALS, sizeof *credentials),
        credentials, sizeof *credentials);
    used += cmsg_space(sizeof *credentials);
  }
#endif

  iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (used > 0) {  // FreeBSD refuses a control buffer shorter than one header, even empty
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = static_cast<decltype(msg.msg_controllen)>(used);
  }
  const ssize_t n = sendmsg_restarting(socket_fd, &msg, no_sigpipe);
  if (n < 0) [[unlikely]] {
    return ancillary_errno();
  }
  return static_cast<std::size_t>(n);
}

/// Walks the control messages recvmsg(2) left in `msg`: SCM_RIGHTS descriptors go to `sink`
/// while it has room, and are closed after that (`overflowed`: lost, as when the kernel
/// cuts them); an SCM_PIDFD goes to `*pidfd` (closed when that is null);
/// SCM_CREDENTIALS go to `sink`. A control message that claims more than the buffer holds (a
/// cut one) is read only as far as the buffer goes. `Sink` is described at
/// `receive_with_control`.
struct control_taken {
  bool overflowed = false;  // more descriptors came than the sink had room for
};

template <class Sink>
[[nodiscard, gnu::noinline]] control_taken walk_control(msghdr& msg, Sink& sink, bool close_on_exec,
                                                        unique_fd* pidfd_out) noexcept;

template <class Sink>
[[nodiscard, gnu::always_inline]] inline control_taken take_control(msghdr& msg, Sink& sink,
                                                                    bool close_on_exec,
                                                                    unique_fd* pidfd_out) noexcept {
  constexpr std::size_t header_size = CMSG_LEN(0);
  const std::size_t left = msg.msg_controllen;
  if (left < header_size) {
    return {};  // no control message (a message without descriptors): nothing to walk
  }
#if defined(MSG_CMSG_CLOEXEC)  // (else the walk sets FD_CLOEXEC)
  // The common case next: one SCM_RIGHTS message, the last (or only) one, with room for all
  // its descriptors; exactly what the walk below makes of it, without the walk. (No further
  // header fits behind it when fewer than `header_size` bytes follow it.)
  cmsghdr header;  // NOLINT(cppcoreguidelines-pro-type-member-init): copied in just below
  std::memcpy(&header, msg.msg_control, sizeof header);
  const std::size_t length = header.cmsg_len;
  if (header.cmsg_level == SOL_SOCKET && header.cmsg_type == SCM_RIGHTS && length >= header_size &&
      length <= left && left - length < header_size) [[likely]] {
    const std::size_t count = (length - header_size) / sizeof(int);
    if (count <= sink.room()) [[likely]] {
      sink.adopt(static_cast<const std::byte*>(msg.msg_control) + header_size, count);
      return {};
    }
  }
#endif
  return walk_control(msg, sink, close_on_exec, pidfd_out);
}

template <class Sink>
[[nodiscard, gnu::noinline]] control_taken walk_control(
    msghdr& msg, Sink& sink, [[maybe_unused]] bool close_on_exec,
    [[maybe_unused]] unique_fd* pidfd_out) noexcept {
  constexpr std::size_t header_size = CMSG_LEN(0);  // where CMSG_DATA starts
  control_taken taken;
  const auto* at = static_cast<const std::byte*>(msg.msg_control);
  std::size_t left = msg.msg_controllen;
  while (left >= header_size) {
    cmsghdr header;  // NOLINT(cppcoreguidelines-pro-type-member-init): copied in just below
    std::memcpy(&header, at, sizeof header);
    if (header.cmsg_len < header_size) [[unlikely]] {
      break;  // malformed: nothing after it can be found
    }
    const std::byte* const payload = at + header_size;
    const std::size_t size = smaller_of(header.cmsg_len, left) - header_size;
    const std::size_t count = size / sizeof(int);
    if (header.cmsg_level != SOL_SOCKET) [[unlikely]] {
      // not ours
    } else if (header.cmsg_type == SCM_RIGHTS) [[likely]] {
#if !defined(MSG_CMSG_CLOEXEC)
      if (close_on_exec) {
        for_each_received(payload, count, [](std::size_t, int fd) noexcept {
          static_cast<void>(::fcntl(fd, F_SETFD, FD_CLOEXEC));  // not atomic with exec
        });
      }
#endif
      const std::size_t kept = smaller_of(count, sink.room());
      sink.adopt(payload, kept);
      if (kept < count) [[unlikely]] {
        close_received(payload + kept * sizeof(int), count - kept);
        taken.overflowed = true;
      }
#if defined(__linux__)
    } else if (header.cmsg_type == scm_pidfd) {
      // The sender's pidfd: to `*pidfd_out`, or closed when the caller wants none. The kernel
      // writes a negative errno here when it could not make one (no free descriptor number).
      int pidfd = -1;
      if (count >= 1) {
        std::memcpy(&pidfd, payload, sizeof pidfd);
      }
      if (pidfd >= 0 && pidfd_out != nullptr) {
        pidfd_out->reset(pidfd);
        close_received(payload + sizeof(int), count - 1);  // one per message: nothing
      } else {
        close_received(payload, count);
      }
    } else if (header.cmsg_type == SCM_CREDENTIALS && size >= sizeof(wire_credentials)) {
      wire_credentials credentials;  // NOLINT(cppcoreguidelines-pro-type-member-init): below
      std::memcpy(&credentials, payload, sizeof credentials);
      sink.take_credentials(credentials);
#endif
    }
    // The next header starts at CMSG_ALIGN(cmsg_len), where CMSG_NXTHDR finds it.
    const std::size_t step = cmsg_space(header.cmsg_len - header_size);
    if (step >= left) {
      break;
    }
    at += step;
    left -= step;
  }
  return taken;
}

/// Closes `*pidfd` (when not null) and returns `e`: a failed receive keeps no pidfd.
[[gnu::cold, gnu::noinline]] inline std::error_code discard_pidfd_and_fail(unique_fd* pidfd,
                                                                           errc e) noexcept {
  if (pidfd != nullptr) {
    pidfd->reset();
  }
  return make_error_code(e);
}
/// As above, for an errno `value`.
[[gnu::cold, gnu::noinline]] inline std::error_code discard_pidfd_and_fail(unique_fd* pidfd,
                                                                           int value) noexcept {
  if (pidfd != nullptr) {
    pidfd->reset();
  }
  return errno_code(value);
}

/// The flags of a receive with control data: MSG_CMSG_CLOEXEC when `close_on_exec`, and on a
/// Linux message socket MSG_TRUNC (recvmsg(2) then returns the message's real length).
template <bool MessageOriented>
[[nodiscard]] constexpr int receive_control_flags([[maybe_unused]] bool close_on_exec) noexcept {
  int flags = 0;
#if defined(MSG_CMSG_CLOEXEC)
  flags |= close_on_exec ? MSG_CMSG_CLOEXEC : 0;
#endif
#if defined(__linux__)
  flags |= MessageOriented ? MSG_TRUNC : 0;
#endif
  return flags;
}

/// What `receive_with_control` does once recvmsg(2) has returned `n` >= 0 into `msg` (whose
/// data buffer held `capacity` bytes): owns every descriptor that arrived and applies the
/// checks below. The Asio layer calls it out of line, after its own recvmsg(2).
template <bool MessageOriented, class Sink>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> take_received(
    msghdr& msg, ssize_t n, std::size_t capacity, Sink& sink, bool close_on_exec,
    unique_fd* pidfd_out) noexcept {
  const control_taken taken = take_control(msg, sink, close_on_exec, pidfd_out);
  // Past these checks `n` fits in the buffer: a stream never returns more, and a message that
  // did not fit (MSG_TRUNC, or Linux's real length) fails. MSG_CTRUNC is a loss (see
  // `descriptors_were_cut`).
  const auto size = static_cast<std::size_t>(n);
  const bool control_truncated = taken.overflowed || descriptors_were_cut(msg);
  const bool data_truncated =
      MessageOriented && ((msg.msg_flags & MSG_TRUNC) != 0 || size > capacity);
  if (control_truncated || data_truncated) [[unlikely]] {
    sink.close_all();
    return discard_pidfd_and_fail(
        pidfd_out, control_truncated ? errc::control_truncated : errc::message_truncated);
  }
  return size;
}

/// One recvmsg(2) into `buffer` with `control` as the control buffer (from
/// `receive_control_space(sink.room())`); returns the bytes stored in `buffer`. Every
/// descriptor the kernel installed is owned the moment the call returns: SCM_RIGHTS
/// descriptors go to `sink` in order, a pidfd (SCM_PIDFD) to `*pidfd_out` (reset first; closed
/// when `pidfd_out` is null). Then, in this order:
/// - descriptors were cut (`descriptors_were_cut`) or more came than `sink` holds: all of
///   them are closed, `errc::control_truncated`;
/// - a message was longer than `buffer`: all of them are closed, `errc::message_truncated`.
/// On any failure neither `sink` nor `*pidfd_out` owns a received descriptor.
///
/// `Sink` takes what arrives:
///   std::size_t room() const noexcept;   // how many more descriptors it can hold
///   void adopt(const std::byte* raw, std::size_t count) noexcept;
///       // owns the next `count` (<= room()) descriptors, ints stored unaligned at `raw`
///   void close_all() noexcept;           // closes every descriptor adopted so far
///   void take_credentials(const wire_credentials&) noexcept;   // SCM_CREDENTIALS
template <bool MessageOriented, class Sink>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> receive_with_control(
    int socket_fd, std::span<std::byte> buffer, Sink& sink, std::span<std::byte> control,
    bool close_on_exec, unique_fd* pidfd_out = nullptr) noexcept {
  if (pidfd_out != nullptr) {
    pidfd_out->reset();
  }
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = static_cast<decltype(msg.msg_controllen)>(control.size());
  const ssize_t n =
      recvmsg_restarting(socket_fd, &msg, receive_control_flags<MessageOriented>(close_on_exec));
  if (n < 0) [[unlikely]] {
    return ancillary_errno();
  }
  return take_received<MessageOriented>(msg, n, buffer.size(), sink, close_on_exec, pidfd_out);
}

}  // namespace sockpair::detail
