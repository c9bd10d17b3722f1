// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Ancillary data: passing open descriptors (SCM_RIGHTS) and process credentials
// (SO_PEERCRED, SCM_CREDENTIALS) over an AF_UNIX pair, with ownership that cannot leak.
//
//   // Sender: the descriptor is borrowed; the sender still owns (and closes) `file`.
//   auto sent = sockpair::send_with_fds(sock, std::string_view("config"), {file.get()});
//
//   // Receiver: the descriptor arrives owned by a unique_fd, close-on-exec.
//   std::array<char, 64> name;
//   auto got = sockpair::receive_with_fds<1>(sock, name);  // room for 1; no allocation
//   if (!got) return got.error();   // errc::control_truncated if more came: all closed
//   sockpair::unique_fd config = std::move(got.value().fds[0]);
//
// Rules (docs/fd_passing.md explains each):
// - On a stream, ancillary data travels with at least one byte: sending descriptors or
//   credentials with no data, or receiving them into an empty buffer, is refused with
//   std::errc::invalid_argument. Message sockets may carry them in an empty message.
// - More than `max_fds_per_message` descriptors is `errc::too_many_descriptors`, before any
//   system call.
// - Descriptors that did not all fit (MSG_CTRUNC, or more than the caller made room for) are
//   all closed and the call fails with `errc::control_truncated`. A message longer than the
//   buffer has its descriptors closed too and fails with `errc::message_truncated`. Either
//   way the bytes were consumed.
// - Credentials (SO_PEERCRED, SCM_CREDENTIALS) are Linux only; on other systems those
//   functions are not declared. Over TIPC nothing here compiles: only AF_UNIX carries
//   descriptors.
#pragma once

#include <socketpair/byte_range.hpp>
#include <socketpair/detail/cmsg.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace sockpair {

namespace detail {

struct fd_vector_access;

// Instantiated by every call below, so that a TIPC socket fails with a message naming the
// problem rather than with a bare overload failure.
template <socket_domain Domain>
consteval bool require_unix_domain() {
  static_assert(std::same_as<Domain, unix_domain>,
                "sockpair: descriptors and credentials pass over AF_UNIX only (SCM_RIGHTS, "
                "SCM_CREDENTIALS); TIPC carries no such ancillary data.");
  return true;
}

}  // namespace detail

/// The most descriptors one message carries (Linux's SCM_MAX_FD).
inline constexpr std::size_t max_fds_per_message = detail::scm_max_fd;

// ---- Credentials --------------------------------------------------------------------------

/// A process's identity as the kernel reports it: process id, user id, group id. Ids are
/// translated into the receiver's pid and user namespaces.
struct credentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);

  friend bool operator==(const credentials&, const credentials&) = default;
};

/// The calling process's credentials: getpid(), getuid(), getgid() (the real ids, which is
/// what Linux attaches to a message by default).
[[nodiscard]] inline credentials current_credentials() noexcept {
  return {::getpid(), ::getuid(), ::getgid()};
}

#if defined(__linux__)
/// The credentials the kernel recorded for the other end when the connection was made
/// (SO_PEERCRED), with effective ids. For a pair from socketpair(2) that is the process that
/// called it, for both ends, even after an end moves to another process through fork(2) or
/// SCM_RIGHTS. To learn who is on the other end now, use per-message credentials
/// (`set_receive_credentials`), or have that process create the pair and pass you one end
/// (`socket::adopt` the received descriptor). Linux only.
template <socket_type Type, socket_domain Domain>
[[nodiscard]] result<credentials> peer_credentials(const socket<Type, Domain>& sock) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  ::ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    return last_errno_code();
  }
  return credentials{peer.pid, peer.uid, peer.gid};
}

/// Turns SO_PASSCRED on or off: while on, every message received on `sock` reports its
/// sender's credentials in `received::credentials` (the sender's real ids by default, or
/// those it attached with `fd_send_options::credentials`). Turn it on before the peer
/// sends: Linux records credentials only for messages sent while the receiver asks for
/// them; one sent earlier reports pid 0 and the overflow ids, unless its sender attached
/// them explicitly. Linux only.
template <socket_type Type, socket_domain Domain>
[[nodiscard]] result<void> set_receive_credentials(socket<Type, Domain>& sock,
                                                   bool enabled) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  const int on = enabled ? 1 : 0;
  return detail::check(::setsockopt(sock.native_handle(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
}
#endif

// ---- Sending ------------------------------------------------------------------------------

/// How `send_with_fds` sends.
struct fd_send_options {
  /// Attach these credentials to the message (SCM_CREDENTIALS). They must be the caller's
  /// own (`current_credentials()`; any of its real, effective or saved ids) unless it has
  /// CAP_SYS_ADMIN (pid), CAP_SETUID (uid) or CAP_SETGID (gid); otherwise sendmsg fails with
  /// EPERM. Unlike the credentials Linux attaches by itself, these arrive even when the
  /// receiver turns `set_receive_credentials` on only after the send. Linux only: elsewhere
  /// setting them fails with std::errc::not_supported, before any system call.
  std::optional<sockpair::credentials> credentials;
};

namespace detail {

// One sendmsg(2) of `data` with `fds` and the credentials `options` asks for.
template <class Type, class Fd>
[[nodiscard]] result<std::size_t> send_ancillary(int sock, std::span<const std::byte> data,
                                                 std::span<const Fd> fds,
                                                 const fd_send_options& options) noexcept {
  wire_credentials wire{};
  const wire_credentials* attach = nullptr;
  if (options.credentials) {
#if defined(__linux__)
    wire = {options.credentials->pid, options.credentials->uid, options.credentials->gid};
#endif
    attach = &wire;
  }
  return send_with_control<Type::message_oriented>(sock, data, fds, attach);
}

}  // namespace detail

/// Sends `data` (any byte range, in place) and, with it, a copy of each descriptor in `fds`:
/// one sendmsg(2).
///
/// The descriptors are borrowed: the caller still owns and must close its own; the receiver
/// gets new descriptors for the same open files. The same descriptor may appear more than
/// once. Returns the bytes sent, with the same rules as `socket::send`: on a message socket
/// the whole message or nothing; on a stream the count may be short, and the descriptors
/// went with the first bytes (send the rest with `socket::send_all`).
///
/// Fails before any system call with `errc::too_many_descriptors` past
/// `max_fds_per_message`, and on a stream with std::errc::invalid_argument when `data` is
/// empty but `fds` is not (a zero-byte stream send carries no ancillary data on Linux; the
/// library refuses rather than invent a byte the receiver would have to know to skip).
/// Otherwise sendmsg(2)'s errors: EBADF for a descriptor that is not open, EPIPE (never
/// SIGPIPE) when the peer is gone, EAGAIN on a full non-blocking socket, ETOOMANYREFS when
/// the sender's descriptors in flight would exceed its RLIMIT_NOFILE.
template <socket_type Type, socket_domain Domain, byte_range Data = std::span<const std::byte>>
[[nodiscard]] result<std::size_t> send_with_fds(socket<Type, Domain>& sock, const Data& data,
                                                std::span<const int> fds,
                                                const fd_send_options& options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), fds, options);
}

/// As above, for descriptors held by `unique_fd`s (still owned by the caller).
template <socket_type Type, socket_domain Domain, byte_range Data = std::span<const std::byte>>
[[nodiscard]] result<std::size_t> send_with_fds(socket<Type, Domain>& sock, const Data& data,
                                                std::span<const unique_fd> fds,
                                                const fd_send_options& options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), fds, options);
}

/// As above, for a braced list: `send_with_fds(sock, data, {file.get(), pipe.get()})`.
template <socket_type Type, socket_domain Domain, byte_range Data = std::span<const std::byte>>
[[nodiscard]] result<std::size_t> send_with_fds(socket<Type, Domain>& sock, const Data& data,
                                                std::initializer_list<int> fds,
                                                const fd_send_options& options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data),
                                      std::span<const int>(fds.begin(), fds.size()), options);
}

#if defined(__linux__)
/// Sends `data` with credentials attached (SCM_CREDENTIALS) and no descriptors; by default
/// the caller's own. See `fd_send_options::credentials` for which ones the kernel accepts.
/// On a stream `data` must not be empty (std::errc::invalid_argument). Linux only.
template <socket_type Type, socket_domain Domain, byte_range Data = std::span<const std::byte>>
[[nodiscard]] result<std::size_t> send_with_credentials(
    socket<Type, Domain>& sock, const Data& data,
    const credentials& creds = current_credentials()) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), std::span<const int>(),
                                      {.credentials = creds});
}
#endif

// ---- Receiving ----------------------------------------------------------------------------

/// How `receive_with_fds` receives.
struct fd_receive_options {
  /// FD_CLOEXEC on every received descriptor, set by the kernel as it installs them
  /// (MSG_CMSG_CLOEXEC), so no concurrent fork+exec can inherit one. On by default; the
  /// sender's flags never carry over. (On systems without MSG_CMSG_CLOEXEC, macOS, it is
  /// set with fcntl(2) just after: not atomic.)
  bool close_on_exec = true;
};

/// Up to `N` owned descriptors, stored in place (no allocation): what
/// `receive_with_fds<N>` returns. Move-only; a moved-from one is empty.
template <std::size_t N>
class inplace_fd_vector {
 public:
  inplace_fd_vector() noexcept = default;
  inplace_fd_vector(inplace_fd_vector&& other) noexcept
      : fds_(std::move(other.fds_)), size_(std::exchange(other.size_, 0)) {}
  inplace_fd_vector& operator=(inplace_fd_vector&& other) noexcept {
    fds_ = std::move(other.fds_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  inplace_fd_vector(const inplace_fd_vector&) = delete;
  inplace_fd_vector& operator=(const inplace_fd_vector&) = delete;
  ~inplace_fd_vector() = default;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N; }

  [[nodiscard]] unique_fd& operator[](std::size_t i) noexcept { return fds_[i]; }
  [[nodiscard]] const unique_fd& operator[](std::size_t i) const noexcept { return fds_[i]; }
  [[nodiscard]] unique_fd* begin() noexcept { return fds_.data(); }
  [[nodiscard]] unique_fd* end() noexcept { return fds_.data() + size_; }
  [[nodiscard]] const unique_fd* begin() const noexcept { return fds_.data(); }
  [[nodiscard]] const unique_fd* end() const noexcept { return fds_.data() + size_; }

  /// The descriptors as a span (still owned here).
  [[nodiscard]] std::span<unique_fd> span() noexcept { return {fds_.data(), size_}; }

  /// Closes every descriptor held.
  void clear() noexcept {
    for (unique_fd& fd : span()) {
      fd.reset();
    }
    size_ = 0;
  }

 private:
  friend struct detail::fd_vector_access;

  std::array<unique_fd, N> fds_{};
  std::size_t size_ = 0;
};

/// What one `receive_with_fds` got.
template <class Fds>
struct received {
  /// Bytes stored in the buffer. On a stream, 0 means the peer shut down its writing side;
  /// on a message socket it is the whole message's size (0 for an empty message).
  std::size_t size = 0;
  /// The descriptors that came with those bytes, in the order sent, each owned.
  Fds fds{};
  /// The sender's credentials, when `set_receive_credentials` is on (Linux).
  std::optional<sockpair::credentials> credentials;
};

namespace detail {

struct fd_vector_access {
  template <std::size_t N>
  [[nodiscard]] static std::span<unique_fd> slots(inplace_fd_vector<N>& v) noexcept {
    return v.fds_;
  }
  template <std::size_t N>
  static void set_size(inplace_fd_vector<N>& v, std::size_t size) noexcept {
    v.size_ = size;
  }
};

[[nodiscard]] inline std::optional<credentials> to_credentials(
    const control_received& got) noexcept {
#if defined(__linux__)
  if (got.has_credentials) {
    return credentials{got.credentials.pid, got.credentials.uid, got.credentials.gid};
  }
#endif
  static_cast<void>(got);
  return std::nullopt;
}

// One recvmsg(2) into `buffer`, the descriptors into `fds`; see `receive_with_control`.
template <class Type>
[[nodiscard]] result<control_received> receive_ancillary(
    int sock, std::span<std::byte> buffer, std::span<unique_fd> fds, std::span<std::byte> control,
    const fd_receive_options& options) noexcept {
  if (!Type::message_oriented && buffer.empty()) {
    return make_error_code(std::errc::invalid_argument);  // 0 would read as EOF
  }
  return receive_with_control<Type::message_oriented>(sock, buffer, fds, control,
                                                      options.close_on_exec);
}

}  // namespace detail

/// Receives bytes into `buffer` (any writable byte range, in place) and up to `N`
/// descriptors, with no allocation: one recvmsg(2). Each descriptor is owned by a
/// `unique_fd` in the result, close-on-exec unless `options` say otherwise.
///
/// Message socket: one whole message, as `socket::receive`; and as there, 0 bytes is an
/// empty message or, on seqpacket, the end of the stream (`socket::receive_message` tells
/// them apart; with `set_receive_credentials` on, every message carries credentials, so 0
/// bytes without them is the end). Stream: up to `buffer.size()` bytes, stopping after the
/// bytes that carried descriptors (their descriptors arrive with the first receive that
/// reads any of them); 0 bytes means EOF; an empty buffer is std::errc::invalid_argument.
///
/// Nothing leaks and nothing is dropped silently:
/// - `errc::control_truncated`: more descriptors came than `N`, or the kernel could not
///   deliver all its ancillary data (MSG_CTRUNC; also when the receiver is at its
///   RLIMIT_NOFILE). Every descriptor that did arrive has been closed.
/// - `errc::message_truncated` (message sockets): the message was longer than `buffer`; its
///   descriptors have been closed and its tail is gone.
/// On either error the bytes were consumed: on a message socket that message is gone; on a
/// stream an unknown number of bytes is gone, so treat it as the end of the conversation.
/// Otherwise recvmsg(2)'s errno, e.g. EAGAIN on an empty non-blocking socket.
template <std::size_t N, socket_type Type, socket_domain Domain,
          class Buffer = std::span<std::byte>>
requires writable_byte_range<Buffer>
[[nodiscard]] result<received<inplace_fd_vector<N>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, fd_receive_options options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  static_assert(N >= 1 && N <= max_fds_per_message,
                "sockpair: receive_with_fds<N> needs 1 <= N <= max_fds_per_message (253)");
  detail::control_buffer<detail::receive_control_space(N)> control;
  received<inplace_fd_vector<N>> out;
  auto got = detail::receive_ancillary<Type>(sock.native_handle(), writable_bytes_of(buffer),
                                             detail::fd_vector_access::slots(out.fds),
                                             control.all(), options);
  if (!got) {
    return got.error();
  }
  out.size = got.assume_value().stored;
  detail::fd_vector_access::set_size(out.fds, got.assume_value().fd_count);
  out.credentials = detail::to_credentials(got.assume_value());
  return out;
}

/// As above, storing the descriptors in the caller's `storage` (no allocation): its first
/// elements are assigned the received descriptors (whatever they owned before is closed)
/// and the result's `fds` views them. More descriptors than `storage.size()` is
/// `errc::control_truncated`.
template <socket_type Type, socket_domain Domain, class Buffer = std::span<std::byte>>
requires writable_byte_range<Buffer>
[[nodiscard]] result<received<std::span<unique_fd>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, std::span<unique_fd> storage,
    fd_receive_options options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  if (storage.size() > max_fds_per_message) {
    storage = storage.first(max_fds_per_message);
  }
  detail::control_buffer<detail::receive_control_space(max_fds_per_message)> control;
  auto got = detail::receive_ancillary<Type>(
      sock.native_handle(), writable_bytes_of(buffer), storage,
      control.first(detail::receive_control_space(storage.size())), options);
  if (!got) {
    return got.error();
  }
  return received<std::span<unique_fd>>{got.assume_value().stored,
                                        storage.first(got.assume_value().fd_count),
                                        detail::to_credentials(got.assume_value())};
}

/// As above, accepting up to `max_fds_per_message` descriptors into a `std::vector` sized
/// to what arrived (it allocates only when descriptors arrive).
template <socket_type Type, socket_domain Domain, class Buffer = std::span<std::byte>>
requires writable_byte_range<Buffer>
[[nodiscard]] result<received<std::vector<unique_fd>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, fd_receive_options options = {}) noexcept {
  static_assert(detail::require_unix_domain<Domain>());
  std::array<unique_fd, max_fds_per_message> slots;
  auto got =
      receive_with_fds(sock, writable_bytes_of(buffer), std::span<unique_fd>(slots), options);
  if (!got) {
    return got.error();
  }
  received<std::vector<unique_fd>> out{got.assume_value().size, {}, got.assume_value().credentials};
  out.fds.reserve(got.assume_value().fds.size());
  for (unique_fd& fd : got.assume_value().fds) {
    out.fds.push_back(std::move(fd));
  }
  return out;
}

}  // namespace sockpair
