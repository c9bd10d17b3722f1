// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Ancillary data: passing open descriptors (SCM_RIGHTS) and process credentials
// (SO_PEERCRED, SCM_CREDENTIALS) over an AF_UNIX pair, with ownership that cannot leak.
//
//   // Sender: the descriptor is borrowed; the sender still owns (and closes) `file`.
//   auto sent = sockpair::send_with_fds(sock, std::string_view("config"), {file});
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
//   functions are not declared, but `peer_credentials` (macOS and the BSDs: LOCAL_PEERCRED,
//   LOCAL_PEERPID, getpeereid; untested). Over TIPC nothing here compiles: only AF_UNIX carries
//   descriptors.
#pragma once

#include <socketpair/borrowed_fd.hpp>
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
#if defined(__APPLE__) || defined(__FreeBSD__)
#include <sys/ucred.h>  // struct xucred (LOCAL_PEERCRED)
#include <sys/un.h>     // LOCAL_PEERCRED, LOCAL_PEERPID
#endif

#include <array>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <new>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace sockpair {

namespace detail {

template <std::size_t N>
class inplace_slots;

template <class Domain>
inline constexpr bool is_unix_domain = std::same_as<Domain, unix_domain>;

}  // namespace detail

/// Sockets of `Domain` carry descriptors and credentials: AF_UNIX only. Every call below is
/// constrained by it, so a TIPC socket is refused with the reason on the line below (a
/// compiler prints it; hence no clang-format).
// clang-format off
template <class Domain>
concept carries_ancillary_data =
    detail::is_unix_domain<Domain>;  // sockpair: descriptors and credentials pass over AF_UNIX only (SCM_RIGHTS, SCM_CREDENTIALS); TIPC carries no such ancillary data
// clang-format on

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
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<credentials> peer_credentials(const socket<Type, Domain>& sock) noexcept {
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
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<void> set_receive_credentials(socket<Type, Domain>& sock,
                                                   bool enabled) noexcept {
  const int on = enabled ? 1 : 0;
  return detail::check(::setsockopt(sock.native_handle(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
}

namespace detail {
inline constexpr int so_passrights = 83;  // <asm-generic/socket.h>, Linux 6.16
}  // namespace detail

/// Turns SO_PASSRIGHTS off (refuse) or back on (accept, the default): while off, a peer's
/// send that carries descriptors (SCM_RIGHTS) to `sock` fails in the sender with EPERM
/// (std::errc::operation_not_permitted) and queues nothing, not even its bytes; sends without
/// descriptors still arrive. Only what `sock` receives is affected: it may still send
/// descriptors itself. Linux >= 6.16; before that, `errc::not_supported_by_kernel`.
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<void> set_accept_descriptors(socket<Type, Domain>& sock,
                                                  bool accept) noexcept {
  return detail::set_new_int_option(sock.native_handle(), SOL_SOCKET, detail::so_passrights,
                                    accept ? 1 : 0);
}
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
/// The effective ids of the other end's creator, by the system's own mechanism, behind the
/// same `credentials` type: LOCAL_PEERCRED (`struct xucred`: uid and first group) on macOS
/// and FreeBSD, with the pid from LOCAL_PEERPID on macOS; getpeereid(3) on the other BSDs.
/// `pid` is 0 where the system does not report it. UNTESTED: only Linux is built and tested
/// here; this code is compiled only on those systems.
template <socket_type Type, carries_ancillary_data Domain>
[[nodiscard]] result<credentials> peer_credentials(const socket<Type, Domain>& sock) noexcept {
  credentials out{};
#if defined(LOCAL_PEERCRED) && defined(XUCRED_VERSION)
  ::xucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(sock.native_handle(), 0 /* SOL_LOCAL */, LOCAL_PEERCRED, &peer, &size) != 0) {
    return last_errno_code();
  }
  if (peer.cr_version != XUCRED_VERSION) {
    return errno_code(EINVAL);
  }
  out.uid = peer.cr_uid;
  out.gid = peer.cr_ngroups > 0 ? peer.cr_groups[0] : static_cast<gid_t>(-1);
#if defined(LOCAL_PEERPID)
  pid_t pid = 0;
  size = sizeof pid;
  if (::getsockopt(sock.native_handle(), 0 /* SOL_LOCAL */, LOCAL_PEERPID, &pid, &size) == 0) {
    out.pid = pid;
  }
#endif
#else
  if (::getpeereid(sock.native_handle(), &out.uid, &out.gid) != 0) {
    return last_errno_code();
  }
#endif
  return out;
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
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_ancillary(
    int sock, std::span<const std::byte> data, std::span<const Fd> fds,
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
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_fds(
    socket<Type, Domain>& sock, const Data& data, std::span<const int> fds,
    const fd_send_options& options = {}) noexcept {
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), fds, options);
}

/// As above, for borrowed descriptors (<socketpair/borrowed_fd.hpp>), the form to prefer:
/// `send_with_fds(sock, data, std::span<const borrowed_fd>(views))`.
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_fds(
    socket<Type, Domain>& sock, const Data& data, std::span<const borrowed_fd> fds,
    const fd_send_options& options = {}) noexcept {
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), fds, options);
}

/// As above, for a braced list of owners, each borrowed for the call:
/// `send_with_fds(sock, data, {file, pipe.read, other_end})` (`unique_fd`s, sockets, or
/// `borrowed_fd::borrow_raw(n)` for a number the caller vouches for).
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_fds(
    socket<Type, Domain>& sock, const Data& data, std::initializer_list<borrowed_fd> fds,
    const fd_send_options& options = {}) noexcept {
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data),
                                      std::span<const borrowed_fd>(fds.begin(), fds.size()),
                                      options);
}

/// As above, for descriptors held by `unique_fd`s (still owned by the caller).
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_fds(
    socket<Type, Domain>& sock, const Data& data, std::span<const unique_fd> fds,
    const fd_send_options& options = {}) noexcept {
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data), fds, options);
}

/// As above, for a braced list of raw numbers: `send_with_fds(sock, data, {file.get()})`.
/// Kept for existing callers (the raw-int forms); a number is not checked to be owned by
/// anyone: prefer the borrowed form above.
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_fds(
    socket<Type, Domain>& sock, const Data& data, std::initializer_list<int> fds,
    const fd_send_options& options = {}) noexcept {
  return detail::send_ancillary<Type>(sock.native_handle(), bytes_of(data),
                                      std::span<const int>(fds.begin(), fds.size()), options);
}

#if defined(__linux__)
/// Sends `data` with credentials attached (SCM_CREDENTIALS) and no descriptors; by default
/// the caller's own. See `fd_send_options::credentials` for which ones the kernel accepts.
/// On a stream `data` must not be empty (std::errc::invalid_argument). Linux only.
template <socket_type Type, carries_ancillary_data Domain,
          byte_range Data = std::span<const std::byte>>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> send_with_credentials(
    socket<Type, Domain>& sock, const Data& data,
    const credentials& creds = current_credentials()) noexcept {
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
  /// Where to put the sender's pidfd (SCM_PIDFD), when `set_receive_pidfd` is on (Linux
  /// >= 6.5, <socketpair/identity.hpp>): the process itself, owned and close-on-exec, which
  /// keeps naming that one process after it exits and its pid is reused; unlike
  /// `received::credentials`'s pid, a number for logs. Null (the default): a pidfd that
  /// arrives is closed. Otherwise `*sender_pidfd` is reset at the start of the call, and after
  /// a success it holds the pidfd of the message's sender, or nothing when none came (not asked
  /// for, or the kernel could not make one: no free descriptor number; on some kernels, a
  /// sender that has exited). After a failure it is empty. The `unique_fd` must outlive the call
  /// only.
  unique_fd* sender_pidfd = nullptr;
};

/// Up to `N` owned descriptors, stored in place (no allocation): what
/// `receive_with_fds<N>` returns. Move-only; a moved-from one is empty. Only the first
/// `size()` slots hold a `unique_fd`: the rest are raw storage, so an empty vector costs
/// nothing to make, move or destroy whatever `N` is.
template <std::size_t N>
class inplace_fd_vector {
 public:
  // User-provided, so that even value-initialisation (`inplace_fd_vector<N>{}`) leaves the
  // storage alone rather than zeroing it.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init,modernize-use-equals-default)
  inplace_fd_vector() noexcept {}
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): slots past size() are unused
  inplace_fd_vector(inplace_fd_vector&& other) noexcept { take(other); }
  inplace_fd_vector& operator=(inplace_fd_vector&& other) noexcept {
    if (this != &other) {
      clear();
      take(other);
    }
    return *this;
  }
  inplace_fd_vector(const inplace_fd_vector&) = delete;
  inplace_fd_vector& operator=(const inplace_fd_vector&) = delete;
  ~inplace_fd_vector() {
    if (size_ != 0) {  // (a moved-from vector, as a rule: nothing to call)
      clear();
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N; }

  [[nodiscard]] unique_fd& operator[](std::size_t i) noexcept { return data()[i]; }
  [[nodiscard]] const unique_fd& operator[](std::size_t i) const noexcept { return data()[i]; }
  [[nodiscard]] unique_fd* begin() noexcept { return data(); }
  [[nodiscard]] unique_fd* end() noexcept { return data() + size_; }
  [[nodiscard]] const unique_fd* begin() const noexcept { return data(); }
  [[nodiscard]] const unique_fd* end() const noexcept { return data() + size_; }

  /// The descriptors as a span (still owned here).
  [[nodiscard]] std::span<unique_fd> span() noexcept { return {data(), size_}; }

  /// Closes every descriptor held.
  void clear() noexcept {
    unique_fd* const first = data();
    unique_fd* const last = first + std::exchange(size_, 0);
    for (const unique_fd* fd = first; fd != last; ++fd) {
      // All that ~unique_fd would do, done here instead: the slot's storage is free from now
      // on, and a destructor need not run when nothing depends on it ([basic.life]).
      if (const int raw = fd->get(); raw >= 0) [[likely]] {
        static_cast<void>(detail::sys::close(raw));  // errors ignored, as ~unique_fd does
      }
    }
  }

 private:
  template <std::size_t>
  friend class detail::inplace_slots;

  // The first slot's `unique_fd`. (No unique_fd lives in an empty vector's storage for
  // std::launder to find, hence the test; it compiles to nothing.)
  [[nodiscard]] unique_fd* data() noexcept {
    auto* const first = reinterpret_cast<unique_fd*>(storage_.data());
    return size_ == 0 ? first : std::launder(first);
  }
  [[nodiscard]] const unique_fd* data() const noexcept {
    const auto* const first = reinterpret_cast<const unique_fd*>(storage_.data());
    return size_ == 0 ? first : std::launder(first);
  }

  // Owns `count` (<= N - size()) descriptors, stored as ints (unaligned) at `raw`, after
  // those held.
  void adopt(const std::byte* raw, std::size_t count) noexcept {
    if (count > N) {
      __builtin_unreachable();  // (the caller's bound: a small N's copy then needs no loop)
    }
    std::byte* const at = storage_.data() + size_ * sizeof(unique_fd);
    const auto construct = [at](std::size_t i, int fd) noexcept {
      ::new (static_cast<void*>(at + i * sizeof(unique_fd))) unique_fd(fd);
    };
    size_ += count;
    if constexpr (sizeof(unique_fd) == sizeof(int)) {
      if (count > 4) {
        // Past a few, one call copies the bytes faster; each owner is then constructed over
        // its own bytes, which stores nothing new (clang drops the loop; g++ keeps it empty).
        std::memcpy(at, raw, count * sizeof(int));
        detail::for_each_received(at, count, construct);
        return;
      }
    }
    detail::for_each_received(raw, count, construct);
  }

  // Takes what `other` holds into this empty vector; `other` ends empty.
  void take(inplace_fd_vector& other) noexcept {
    const std::size_t count = other.size_;
    if (count == 0) {
      return;  // (also keeps g++ from warning about the storage an empty vector leaves alone)
    }
    if (count > N) {
      __builtin_unreachable();  // so a small N's loop unrolls instead of becoming a memcpy call
    }
    unique_fd* const from = other.data();
    other.size_ = 0;
    for (std::size_t i = 0; i < count; ++i) {
      ::new (static_cast<void*>(storage_.data() + i * sizeof(unique_fd)))
          unique_fd(std::move(from[i]));
      from[i].~unique_fd();  // empty now: closes nothing
    }
    size_ = count;
  }

  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): slots past size() are unused
  alignas(unique_fd) std::array<std::byte, N * sizeof(unique_fd)> storage_;
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

// The `Sink`s of `receive_with_control` (detail/cmsg.hpp), one per kind of storage.

// Sets `out` from what SCM_CREDENTIALS carried.
inline void set_credentials([[maybe_unused]] std::optional<credentials>& out,
                            [[maybe_unused]] const wire_credentials& in) noexcept {
#if defined(__linux__)
  out = credentials{in.pid, in.uid, in.gid};
#endif
}

// Into the free slots of an inplace_fd_vector.
template <std::size_t N>
class inplace_slots {
 public:
  explicit inplace_slots(received<inplace_fd_vector<N>>& out) noexcept : out_(out) {}
  [[nodiscard]] std::size_t room() const noexcept { return N - out_.fds.size(); }
  void adopt(const std::byte* raw, std::size_t count) noexcept { out_.fds.adopt(raw, count); }
  void close_all() noexcept { out_.fds.clear(); }
  void take_credentials(const wire_credentials& in) noexcept {
    set_credentials(out_.credentials, in);
  }

 private:
  received<inplace_fd_vector<N>>& out_;
};

// Into the caller's unique_fds, assigned in order (closing what they held).
class span_slots {
 public:
  explicit span_slots(std::span<unique_fd> slots) noexcept : slots_(slots) {}
  [[nodiscard]] std::size_t room() const noexcept { return slots_.size() - count_; }
  void adopt(const std::byte* raw, std::size_t count) noexcept {
    for_each_received(raw, count,
                      [this](std::size_t, int fd) noexcept { slots_[count_++].reset(fd); });
  }
  void close_all() noexcept {
    for (unique_fd& fd : slots_.first(count_)) {
      fd.reset();
    }
    count_ = 0;
  }
  void take_credentials(const wire_credentials& in) noexcept { set_credentials(credentials_, in); }

  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] std::optional<sockpair::credentials>& sender() noexcept { return credentials_; }

 private:
  std::span<unique_fd> slots_;
  std::size_t count_ = 0;
  std::optional<sockpair::credentials> credentials_;
};

// One recvmsg(2) into `buffer`, the descriptors into `sink`; see `receive_with_control`.
template <class Type, class Sink>
[[nodiscard, gnu::always_inline]] inline result<std::size_t> receive_ancillary(
    int sock, std::span<std::byte> buffer, Sink& sink, std::span<std::byte> control,
    const fd_receive_options& options) noexcept {
  if (!Type::message_oriented && buffer.empty()) [[unlikely]] {
    // 0 would read as EOF. A failure like any other: the pidfd slot ends empty.
    return discard_pidfd_and_fail(options.sender_pidfd, EINVAL);
  }
  return receive_with_control<Type::message_oriented>(sock, buffer, sink, control,
                                                      options.close_on_exec, options.sender_pidfd);
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
template <std::size_t N, socket_type Type, carries_ancillary_data Domain,
          class Buffer = std::span<std::byte>>
requires receive_buffer<Buffer>
[[nodiscard, gnu::always_inline]] inline result<received<inplace_fd_vector<N>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, fd_receive_options options = {}) noexcept {
  static_assert(N >= 1 && N <= max_fds_per_message,
                "sockpair: receive_with_fds<N> needs 1 <= N <= max_fds_per_message (253)");
  // Built where the caller gets it and returned by name: the descriptors land in place and
  // are never moved.
  using value_type = received<inplace_fd_vector<N>>;
  value_type empty;  // not `{}`, which g++ compiles to zeroing the whole object
  result<value_type> out{outcome::in_place_type<value_type>, std::move(empty)};
  detail::inplace_slots<N> sink(out.assume_value());
  detail::control_buffer<detail::receive_control_space(N)> control;
  auto stored = detail::receive_ancillary<Type>(sock.native_handle(), writable_bytes_of(buffer),
                                                sink, control.all(), options);
  if (stored) [[likely]] {
    out.assume_value().size = stored.assume_value();
  } else {
    out = stored.assume_error();
  }
  return out;
}

/// As above, storing the descriptors in the caller's `storage` (no allocation): its first
/// elements are assigned the received descriptors (whatever they owned before is closed)
/// and the result's `fds` views them. More descriptors than `storage.size()` is
/// `errc::control_truncated`.
template <socket_type Type, carries_ancillary_data Domain, class Buffer = std::span<std::byte>>
requires receive_buffer<Buffer>
[[nodiscard]] inline result<received<std::span<unique_fd>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, std::span<unique_fd> storage,
    fd_receive_options options = {}) noexcept {
  if (storage.size() > max_fds_per_message) {
    storage = storage.first(max_fds_per_message);
  }
  detail::span_slots sink(storage);
  detail::control_buffer<detail::receive_control_space(max_fds_per_message)> control;
  auto stored = detail::receive_ancillary<Type>(
      sock.native_handle(), writable_bytes_of(buffer), sink,
      control.first(detail::receive_control_space(storage.size())), options);
  if (!stored) {
    return stored.assume_error();
  }
  return received<std::span<unique_fd>>{stored.assume_value(), storage.first(sink.count()),
                                        sink.sender()};
}

namespace detail {

// Makes room for `count` more descriptors in `fds`: false when memory ran out. With
// exceptions, the allocator's std::bad_alloc is caught here. Under -fno-exceptions
// std::allocator has no way to fail softly (operator new still throws, and the exception ends
// the program); that build reports nothing here and terminates like any std::vector would.
[[nodiscard]] inline bool try_reserve(std::vector<unique_fd>& fds, std::size_t count) noexcept {
#if defined(__cpp_exceptions)
  try {
    fds.reserve(count);
  } catch (const std::bad_alloc&) {
    return false;
  }
#else
  fds.reserve(count);
#endif
  return true;
}

}  // namespace detail

/// As above, accepting up to `max_fds_per_message` descriptors into a `std::vector` sized
/// to what arrived (it allocates only when descriptors arrive). If that allocation fails, the
/// call fails with ENOMEM and every descriptor that arrived is closed, the sender's pidfd too
/// (the bytes were consumed). Under -fno-exceptions an allocation failure cannot be caught and ends
/// the program, as any std::vector's does: where that matters, use the two overloads above, which
/// never allocate.
template <socket_type Type, carries_ancillary_data Domain, class Buffer = std::span<std::byte>>
requires receive_buffer<Buffer>
[[nodiscard]] inline result<received<std::vector<unique_fd>>> receive_with_fds(
    socket<Type, Domain>& sock, Buffer&& buffer, fd_receive_options options = {}) noexcept {
  auto got = receive_with_fds<max_fds_per_message>(sock, writable_bytes_of(buffer), options);
  if (!got) {
    return got.assume_error();
  }
  received<inplace_fd_vector<max_fds_per_message>>& in = got.assume_value();
  received<std::vector<unique_fd>> out{in.size, {}, in.credentials};
  if (!detail::try_reserve(out.fds, in.fds.size())) {
    // `got` closes the descriptors on the way out; the pidfd that came with them goes too.
    return detail::discard_pidfd_and_fail(options.sender_pidfd, ENOMEM);
  }
  for (unique_fd& fd : in.fds) {
    out.fds.push_back(std::move(fd));
  }
  return out;
}

}  // namespace sockpair
