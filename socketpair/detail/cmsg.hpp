// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Control-message plumbing behind <socketpair/ancillary.hpp>: lays out SCM_RIGHTS and
// SCM_CREDENTIALS for sendmsg(2), and takes ownership of everything recvmsg(2) delivers.
// Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

namespace sockpair::detail {

/// The most descriptors one sendmsg(2) may carry: Linux's SCM_MAX_FD (253). sendmsg fails
/// with EINVAL past it, whether they come in one SCM_RIGHTS message or several.
inline constexpr std::size_t scm_max_fd = 253;

#if defined(__linux__)
inline constexpr bool has_scm_credentials = true;
/// SCM_PIDFD (Linux >= 6.5, with SO_PASSPIDFD): a pidfd of the sender, installed in the
/// receiver like a passed descriptor. The number is kernel ABI; older libc headers lack it.
inline constexpr int scm_pidfd = 0x04;
/// The credentials carried by SCM_CREDENTIALS.
using wire_credentials = ::ucred;
#else
inline constexpr bool has_scm_credentials = false;
struct wire_credentials {};
#endif

/// Bytes of control buffer that one control message with `payload` bytes occupies.
[[nodiscard]] constexpr std::size_t cmsg_space(std::size_t payload) noexcept {
  return CMSG_SPACE(payload);
}

/// Control space the kernel may fill without being asked for descriptors: SCM_CREDENTIALS
/// when SO_PASSCRED is on (delivered before the descriptors, so without this room it would
/// crowd them out) and SCM_PIDFD when SO_PASSPIDFD is on.
#if defined(__linux__)
inline constexpr std::size_t unsolicited_control_space =
    cmsg_space(sizeof(wire_credentials)) + cmsg_space(sizeof(int));
#else
inline constexpr std::size_t unsolicited_control_space = 0;
#endif

/// Control space for receiving up to `fds` descriptors plus what the kernel adds unasked.
[[nodiscard]] constexpr std::size_t receive_control_space(std::size_t fds) noexcept {
  return (fds == 0 ? 0 : cmsg_space(fds * sizeof(int))) + unsolicited_control_space;
}

/// Control space for sending `fds` descriptors and, optionally, credentials.
[[nodiscard]] constexpr std::size_t send_control_space(std::size_t fds, bool credentials) noexcept {
  std::size_t space = fds == 0 ? 0 : cmsg_space(fds * sizeof(int));
  if constexpr (has_scm_credentials) {
    space += credentials ? cmsg_space(sizeof(wire_credentials)) : 0;
  }
  return space;
}

/// A control buffer of `Bytes` bytes, aligned for `cmsghdr`, zero-filled.
template <std::size_t Bytes>
struct control_buffer {
  alignas(cmsghdr) std::array<std::byte, Bytes> bytes{};

  [[nodiscard]] std::span<std::byte> all() noexcept { return bytes; }
  [[nodiscard]] std::span<std::byte> first(std::size_t n) noexcept {
    return all().first(n < Bytes ? n : Bytes);
  }
};

/// The descriptor a span element stands for.
[[nodiscard]] constexpr int raw_fd(int fd) noexcept { return fd; }
[[nodiscard]] constexpr int raw_fd(const unique_fd& fd) noexcept { return fd.get(); }

/// One sendmsg(2) of `data` with `fds` in an SCM_RIGHTS message and, when `credentials` is
/// not null, an SCM_CREDENTIALS message. Refuses, before any system call, more descriptors
/// than one message carries and (on a stream) ancillary data with no byte to carry it.
template <bool MessageOriented, class Fd>
[[nodiscard]] result<std::size_t> send_with_control(int socket_fd, std::span<const std::byte> data,
                                                    std::span<const Fd> fds,
                                                    const wire_credentials* credentials) noexcept {
  if (fds.size() > scm_max_fd) {
    return make_error_code(errc::too_many_descriptors);
  }
  if constexpr (!has_scm_credentials) {
    if (credentials != nullptr) {
      return make_error_code(std::errc::not_supported);
    }
  }
  const bool has_ancillary = !fds.empty() || credentials != nullptr;
  if (has_ancillary && !MessageOriented && data.empty()) {
    // A zero-byte stream send queues nothing, so the ancillary data would vanish.
    return make_error_code(std::errc::invalid_argument);
  }

  control_buffer<send_control_space(scm_max_fd, true)> control;
  std::size_t used = 0;
  // Appends one SOL_SOCKET control message and returns where its payload goes.
  auto append = [&](int type, std::size_t payload) noexcept {
    auto* header = reinterpret_cast<cmsghdr*>(control.bytes.data() + used);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = type;
    header->cmsg_len = CMSG_LEN(payload);
    used += cmsg_space(payload);
    return reinterpret_cast<std::byte*>(CMSG_DATA(header));
  };
  if (!fds.empty()) {
    std::byte* out = append(SCM_RIGHTS, fds.size() * sizeof(int));
    for (const Fd& fd : fds) {
      const int raw = raw_fd(fd);
      std::memcpy(out, &raw, sizeof raw);
      out += sizeof raw;
    }
  }
#if defined(__linux__)
  if (credentials != nullptr) {
    std::memcpy(append(SCM_CREDENTIALS, sizeof *credentials), credentials, sizeof *credentials);
  }
#endif

  iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (used > 0) {
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = static_cast<decltype(msg.msg_controllen)>(used);
  }
  const ssize_t n = retry_on_eintr([&] { return ::sendmsg(socket_fd, &msg, no_sigpipe); });
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// What one recvmsg(2) delivered, after every descriptor in it was taken into ownership.
struct control_received {
  std::size_t stored = 0;    // bytes written to the data buffer
  std::size_t fd_count = 0;  // descriptors now owned by the first `fd_count` slots
  bool has_credentials = false;
  wire_credentials credentials{};
};

/// Takes ownership of received descriptors: into the slots while there is room, closed
/// (and remembered as an overflow) once they are full.
class fd_collector {
 public:
  fd_collector(std::span<unique_fd> slots, bool close_on_exec) noexcept
      : slots_(slots), close_on_exec_(close_on_exec) {}

  /// Owns `raw` from now on; keeps it in a slot when `keep` and there is room.
  void take(int raw, bool keep) noexcept {
    unique_fd owned(raw);  // owned before anything else can happen
#if !defined(MSG_CMSG_CLOEXEC)
    if (close_on_exec_) {
      static_cast<void>(::fcntl(raw, F_SETFD, FD_CLOEXEC));  // not atomic with exec
    }
#endif
    if (!keep) {
      return;  // not returned to the caller: closed here
    }
    if (count_ < slots_.size()) {
      slots_[count_++] = std::move(owned);
    } else {
      overflow_ = true;
    }
  }

  /// Closes every descriptor kept so far.
  void close_all() noexcept {
    for (unique_fd& fd : slots_.first(count_)) {
      fd.reset();
    }
    count_ = 0;
  }

  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] bool overflow() const noexcept { return overflow_; }

 private:
  std::span<unique_fd> slots_;
  std::size_t count_ = 0;
  bool overflow_ = false;
  [[maybe_unused]] bool close_on_exec_;
};

/// Walks the control messages recvmsg(2) left in `msg`: every descriptor goes to `fds`
/// (SCM_RIGHTS) or is closed (SCM_PIDFD); SCM_CREDENTIALS lands in `got`. A control message
/// that claims more than the buffer holds (a cut one) is read only as far as the buffer goes.
inline void take_control(msghdr& msg, fd_collector& fds, control_received& got) noexcept {
  if (msg.msg_controllen == 0) {
    return;
  }
  const auto* const end = static_cast<const unsigned char*>(msg.msg_control) + msg.msg_controllen;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const unsigned char* payload = CMSG_DATA(c);
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_len < CMSG_LEN(0) || payload > end) {
      continue;
    }
    const std::size_t size =
        std::min<std::size_t>(c->cmsg_len - CMSG_LEN(0), static_cast<std::size_t>(end - payload));
#if defined(__linux__)
    if (c->cmsg_type == SCM_CREDENTIALS && size >= sizeof got.credentials) {
      std::memcpy(&got.credentials, payload, sizeof got.credentials);
      got.has_credentials = true;
    }
    const bool carries_fds = c->cmsg_type == SCM_RIGHTS || c->cmsg_type == scm_pidfd;
#else
    const bool carries_fds = c->cmsg_type == SCM_RIGHTS;
#endif
    for (std::size_t i = 0; carries_fds && i + sizeof(int) <= size; i += sizeof(int)) {
      int raw = -1;
      std::memcpy(&raw, payload + i, sizeof raw);
      fds.take(raw, c->cmsg_type == SCM_RIGHTS);
    }
  }
}

/// One recvmsg(2) into `buffer` with `control` as the control buffer (from
/// `receive_control_space(fds.size())`). Every descriptor the kernel installed is owned the
/// moment the call returns: SCM_RIGHTS descriptors go to `fds` in order, any other
/// (SCM_PIDFD) is closed. Then, in this order:
/// - the control data was cut (MSG_CTRUNC) or more descriptors came than `fds` holds:
///   all of them are closed, `errc::control_truncated`;
/// - a message was longer than `buffer`: all of them are closed, `errc::message_truncated`.
/// On any failure no slot of `fds` owns a received descriptor.
template <bool MessageOriented>
[[nodiscard]] result<control_received> receive_with_control(int socket_fd,
                                                            std::span<std::byte> buffer,
                                                            std::span<unique_fd> fds,
                                                            std::span<std::byte> control,
                                                            bool close_on_exec) noexcept {
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = static_cast<decltype(msg.msg_controllen)>(control.size());
  int flags = 0;
#if defined(MSG_CMSG_CLOEXEC)
  flags |= close_on_exec ? MSG_CMSG_CLOEXEC : 0;
#endif
#if defined(__linux__)
  flags |= MessageOriented ? MSG_TRUNC : 0;  // Linux then returns the message's real length
#endif
  const ssize_t n = retry_on_eintr([&] { return ::recvmsg(socket_fd, &msg, flags); });
  if (n < 0) {
    return last_errno_code();
  }

  control_received got;
  fd_collector collector(fds, close_on_exec);
  take_control(msg, collector, got);

  const auto size = static_cast<std::size_t>(n);
  const bool control_truncated = collector.overflow() || (msg.msg_flags & MSG_CTRUNC) != 0;
  const bool data_truncated =
      MessageOriented && ((msg.msg_flags & MSG_TRUNC) != 0 || size > buffer.size());
  if (control_truncated || data_truncated) {
    collector.close_all();
    return make_error_code(control_truncated ? errc::control_truncated : errc::message_truncated);
  }
  got.stored = std::min(size, buffer.size());
  got.fd_count = collector.count();
  return got;
}

}  // namespace sockpair::detail
