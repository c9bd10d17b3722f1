// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Control data (ancillary data) that arrives with a message, whether or not it was asked
// for: how much room it needs, and how the receives that take no descriptors make sure none
// is lost silently. Nothing here is part of the public interface.
//
// Why every receive offers the kernel a control buffer: a peer can attach descriptors to any
// message. recv(2), or recvmsg(2) without room for control data, makes the kernel close them
// and set MSG_CTRUNC, which recv(2) cannot report. So the library's receives use recvmsg(2)
// with room for everything the kernel may add unasked; descriptors that then arrive are
// closed at once and the receive says so.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/sizes.hpp>
#include <socketpair/detail/sys.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <span>

namespace sockpair::detail {

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

/// Room for a security label (SCM_SECURITY, with SO_PASSSEC under SELinux or Smack). Labels
/// have no fixed size; 256 bytes holds any context seen in practice. A longer one fills the
/// buffer, and a descriptor behind it is then counted as lost (see `descriptors_were_cut`).
inline constexpr std::size_t security_label_room = 256;

/// Control space the kernel may fill on an AF_UNIX receive without being asked for
/// descriptors, in the order it writes them: a timestamp (SO_TIMESTAMP or SO_TIMESTAMPNS,
/// 16 bytes) and a SO_TIMESTAMPING triple (48), credentials (SO_PASSCRED), a security label
/// (SO_PASSSEC); after the descriptors, a pidfd (SO_PASSPIDFD). All of them come before the
/// descriptors but the pidfd, so without this room they would crowd descriptors out.
#if defined(__linux__)
inline constexpr std::size_t unsolicited_control_space =
    cmsg_space(16) + cmsg_space(48) + cmsg_space(sizeof(wire_credentials)) +
    cmsg_space(security_label_room) + cmsg_space(sizeof(int));
#else
inline constexpr std::size_t unsolicited_control_space =
    cmsg_space(16) + cmsg_space(security_label_room) + cmsg_space(sizeof(int));
#endif

/// Control space for receiving up to `fds` descriptors plus what the kernel adds unasked.
[[nodiscard]] constexpr std::size_t receive_control_space(std::size_t fds) noexcept {
  return (fds == 0 ? 0 : cmsg_space(fds * sizeof(int))) + unsolicited_control_space;
}

/// A control buffer of `Bytes` bytes, aligned for `cmsghdr` and deliberately uninitialised:
/// a sender writes every byte it passes on (padding included), and recvmsg(2) writes every
/// byte a receiver reads (up to the `msg_controllen` it returns).
template <std::size_t Bytes>
struct control_buffer {
  // Leaves `bytes` alone, as `= default` would, but without each declaration of a buffer then
  // needing its own NOLINT.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init,modernize-use-equals-default)
  control_buffer() noexcept {}

  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): filled before it is read (above)
  alignas(cmsghdr) std::array<std::byte, Bytes> bytes;

  [[nodiscard]] std::span<std::byte> all() noexcept { return bytes; }
  [[nodiscard]] std::span<std::byte> first(std::size_t n) noexcept {
    return all().first(n < Bytes ? n : Bytes);
  }
};

/// The control buffer of a receive that takes no descriptors.
using unsolicited_control_buffer = control_buffer<unsolicited_control_space>;

/// The flag that makes the kernel install received descriptors close-on-exec, so that no
/// concurrent fork+exec inherits one before it is closed or owned.
#if defined(MSG_CMSG_CLOEXEC)
inline constexpr int cmsg_cloexec = MSG_CMSG_CLOEXEC;
#else
inline constexpr int cmsg_cloexec = 0;
#endif

/// Calls `f(i, fd)` for each of the `count` descriptors stored as ints (unaligned) at `raw`,
/// in order: an odd one first, then two at a time (as detail/cmsg.hpp's `store_fds` stores
/// them).
template <class F>
inline void for_each_received(const std::byte* raw, std::size_t count, F f) noexcept {
  std::size_t i = 0;
  if (count % 2 != 0) {
    int fd = -1;
    std::memcpy(&fd, raw, sizeof fd);
    f(std::size_t{0}, fd);
    i = 1;
  }
  for (; i < count; i += 2) {
    int first = -1;
    int second = -1;
    std::memcpy(&first, raw + i * sizeof(int), sizeof(int));
    std::memcpy(&second, raw + (i + 1) * sizeof(int), sizeof(int));
    f(i, first);
    f(i + 1, second);
  }
}

/// Closes `count` descriptors stored as ints (unaligned) from `raw`.
[[gnu::cold, gnu::noinline]] inline void close_received(const std::byte* raw,
                                                        std::size_t count) noexcept {
  for_each_received(raw, count, [](std::size_t, int fd) noexcept {
    if (fd >= 0) {                        // (a pidfd the kernel could not make is a negative errno)
      static_cast<void>(sys::close(fd));  // errors ignored, as unique_fd's destructor does
    }
  });
}

/// After recvmsg(2), with room offered for everything the kernel adds unasked: were
/// descriptors lost, cut from an SCM_RIGHTS message or dropped whole? MSG_CTRUNC says that
/// something did not fit or could not be installed: descriptors for lack of room (a security
/// label longer than `security_label_room` before them) or of free descriptor numbers
/// (RLIMIT_NOFILE), or what comes after them: the pidfd (SO_PASSPIDFD; no room for it, as
/// when more descriptors came than there was room for) or SCM_INQ (SO_INQ, Linux >= 6.17).
/// Nothing in the message tells these apart, so MSG_CTRUNC always counts as a loss. A pidfd
/// that arrived proves nothing: it is made after the descriptors, so a number another thread
/// freed in between serves it although the descriptors found none (the kernel sets no
/// MSG_CTRUNC when it cannot make a pidfd: it writes a negative errno in its place). With the
/// room this library offers, nothing after the descriptors is cut unless more descriptors
/// came than were asked for, itself an error: no false alarm is left.
[[nodiscard]] constexpr bool descriptors_were_cut(const msghdr& msg) noexcept {
  return (msg.msg_flags & MSG_CTRUNC) != 0;
}

/// After a recvmsg(2) that wanted no descriptors: closes every descriptor the kernel installed
/// (SCM_RIGHTS, SCM_PIDFD) and returns whether the peer's descriptors were discarded, here or by
/// the kernel (an SCM_RIGHTS arrived, or one was cut). Other control data (credentials, timestamps)
/// is no loss and is ignored.
[[gnu::cold, gnu::noinline]] inline bool discard_unwanted_control(msghdr& msg) noexcept {
  bool discarded = false;
  if (msg.msg_control == nullptr || msg.msg_controllen == 0) {
    return descriptors_were_cut(msg);
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
#if defined(__linux__)
    const bool pidfd = c->cmsg_type == scm_pidfd;
#else
    const bool pidfd = false;
#endif
    if (c->cmsg_type == SCM_RIGHTS || pidfd) {
      // Only as far as the buffer holds: a message the kernel cut claims more than it wrote.
      const auto* const data = reinterpret_cast<const std::byte*>(CMSG_DATA(c));
      const auto* const end = static_cast<const std::byte*>(msg.msg_control) + msg.msg_controllen;
      const std::size_t bytes = data < end ? static_cast<std::size_t>(end - data) : 0;
      close_received(data, smaller_of(c->cmsg_len - CMSG_LEN(0), bytes) / sizeof(int));
      discarded = discarded || !pidfd;
    }
  }
  return discarded || descriptors_were_cut(msg);
}

/// Whether a recvmsg(2) that wanted no descriptors brought any control data to look at; the
/// hot paths test this and call `discard_unwanted_control` only when it is true.
[[nodiscard, gnu::always_inline]] inline bool has_control_data(const msghdr& msg) noexcept {
  return msg.msg_controllen != 0 || (msg.msg_flags & MSG_CTRUNC) != 0;
}

}  // namespace sockpair::detail
