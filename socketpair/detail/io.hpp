// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The system calls behind socket's I/O members, each with the library's EINTR and SIGPIPE
// policy applied once. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/control.hpp>
#include <socketpair/detail/sigpipe.hpp>
#include <socketpair/detail/sizes.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstddef>
#include <cstring>
#include <new>
#include <span>

namespace sockpair::detail {

// The functions below are templates only so that they cost nothing until used: a
// non-template inline function is compiled in every translation unit that includes it, and
// each distinct result<T> it returns instantiates much of Boost.Outcome (measured: 0.07 s of
// the umbrella header's 0.47 s with g++ 12). `template <class = void>` defers that to the
// first call.

// Every send passes `no_sigpipe` (MSG_NOSIGNAL; detail/sigpipe.hpp says where SO_NOSIGPIPE is
// set on the socket instead).

/// One send(2); blocking calls interrupted by a signal are finished as `finish_interrupted`
/// says (restarted, with the socket's send timeout still counting).
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> send_some(int fd, std::span<const std::byte> data,
                                            int flags = 0) noexcept {
  const ssize_t n = send_restarting(fd, data, 0, flags | no_sigpipe);
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// Receives on a byte stream with recvmsg(2), offering the kernel room for the control data
/// it may add unasked, so that descriptors riding on the bytes are seen, closed and reported
/// (see detail/control.hpp). The building block of every stream receive but a peek. One
/// object serves a whole loop: the msghdr is built once, and each call sets only what
/// changes (the kernel writes msg_controllen and msg_flags back). `OfferControl` false (TIPC,
/// which carries no descriptors and answers a control buffer with ancillary data of its own)
/// offers none.
template <bool OfferControl = true>
class stream_receiver {
 public:
  // Only the fields recvmsg(2) reads are written: msg_flags is output only, and iov_ and
  // msg_controllen are set by each call.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): see above
  [[gnu::always_inline]] explicit stream_receiver(int fd) noexcept : fd_(fd) {
    msg_.msg_name = nullptr;
    msg_.msg_namelen = 0;
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    msg_.msg_control = OfferControl ? control_.bytes.data() : nullptr;
    msg_.msg_controllen = 0;
  }
  stream_receiver(const stream_receiver&) = delete;  // msg_ points into the object itself
  stream_receiver& operator=(const stream_receiver&) = delete;
  stream_receiver(stream_receiver&&) = delete;
  stream_receiver& operator=(stream_receiver&&) = delete;
  ~stream_receiver() = default;

  /// One recvmsg(2) of up to `size` bytes into `data`: the count (0: orderly EOF), or -1 with
  /// errno set. `discarded` is set when descriptors came with the bytes (they are closed).
  [[nodiscard, gnu::always_inline]] ssize_t receive(std::byte* data, std::size_t size,
                                                    bool& discarded, int flags = 0) noexcept {
    iov_.iov_base = data;
    iov_.iov_len = size;
    if constexpr (OfferControl) {
      msg_.msg_controllen = control_.bytes.size();
    }
    const ssize_t n = recvmsg_restarting(fd_, &msg_, flags | cmsg_cloexec);
    // (After a failure the kernel writes back neither msg_controllen nor msg_flags.)
    if (OfferControl && n >= 0 && has_control_data(msg_)) [[unlikely]] {
      discarded = discard_unwanted_control(msg_);
    }
    return n;
  }

 private:
  int fd_;
  iovec iov_;   // NOLINT(cppcoreguidelines-pro-type-member-init): set by each call
  msghdr msg_;  // NOLINT(cppcoreguidelines-pro-type-member-init): set where read (above)
  unsolicited_control_buffer control_;
};

/// One receive on a byte stream; 0 means orderly EOF. An empty buffer fails with EINVAL and
/// receives nothing: its 0 would read as the end of the stream with data queued. Descriptors
/// that came with the bytes are closed and the call fails with `errc::descriptors_discarded`
/// (the bytes are in `buffer`, but how many is not reported: treat the stream as broken).
template <bool OfferControl = true>  // (a template: instantiated on first use, see above)
[[nodiscard, gnu::always_inline]] inline result<std::size_t> receive_some(
    int fd, std::span<std::byte> buffer, int flags = 0) noexcept {
  if (buffer.empty()) [[unlikely]] {
    return invalid_argument_error();
  }
  bool discarded = false;
  stream_receiver<OfferControl> receiver(fd);
  const ssize_t n = receiver.receive(buffer.data(), buffer.size(), discarded, flags);
  if (n < 0) {
    return last_errno_code();
  }
  if (discarded) [[unlikely]] {
    return descriptors_discarded_error();
  }
  return static_cast<std::size_t>(n);
}

/// One recv(2) on a byte stream; 0 means orderly EOF, an empty buffer is EINVAL. recv(2) has
/// nowhere to put control data, so descriptors riding on the bytes would be closed by the
/// kernel unreported: this is only for a peek (MSG_PEEK, which leaves them queued) and for an
/// end that refuses descriptors (SO_PASSRIGHTS off) since before the bytes it reads were sent.
template <class = void>  // instantiated on first use (see above)
[[nodiscard, gnu::always_inline]] inline result<std::size_t> recv_some(int fd,
                                                                       std::span<std::byte> buffer,
                                                                       int flags) noexcept {
  if (buffer.empty()) [[unlikely]] {
    return invalid_argument_error();
  }
  const ssize_t n = recv_restarting(fd, buffer, 0, flags);
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// One recv(2) with MSG_PEEK on a byte stream: copies what a receive would return, leaving it
/// (and any descriptors riding on it) queued. 0 means orderly EOF; an empty buffer is EINVAL.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> peek_some(int fd, std::span<std::byte> buffer) noexcept {
  return recv_some(fd, buffer, MSG_PEEK);
}

/// What one recvmsg(2) of a whole message saw.
struct message_extent {
  std::size_t stored;          // bytes written to the buffer
  std::size_t message_size;    // the message's real size (exact on Linux; >= stored elsewhere)
  bool truncated;              // the message did not fit and its tail was discarded
  bool descriptors_discarded;  // it carried descriptors, which were closed
};

/// The most buffers one sendmsg(2)/recvmsg(2) takes: IOV_MAX (1024 on Linux).
#if defined(IOV_MAX)
inline constexpr std::size_t max_iov = IOV_MAX;
#elif defined(UIO_MAXIOV)
inline constexpr std::size_t max_iov = UIO_MAXIOV;
#else
inline constexpr std::size_t max_iov = 16;  // _XOPEN_IOV_MAX, the least POSIX allows
#endif

/// One recvmsg(2) of a whole message into `count` iovecs holding `capacity` bytes in all.
/// Descriptors the message carried are closed and reported (`descriptors_discarded`), except
/// on a peek (MSG_PEEK), which offers no control buffer: the kernel then installs nothing and
/// the descriptors stay queued with the message.
template <bool OfferControl = true>  // (a template: instantiated on first use, see above)
[[nodiscard]] result<message_extent> receive_one_message(int fd, iovec* iov, std::size_t count,
                                                         std::size_t capacity,
                                                         int flags = 0) noexcept {
  unsolicited_control_buffer control;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  const bool offer_control = OfferControl && (flags & MSG_PEEK) == 0;
  if (offer_control) {
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = control.bytes.size();
  }
#if defined(__linux__)
  flags |= MSG_TRUNC;  // Linux then returns the message's real length
#endif
  const ssize_t n = recvmsg_restarting(fd, &msg, flags | cmsg_cloexec);
  if (n < 0) {
    return last_errno_code();  // (the kernel wrote back neither msg_controllen nor msg_flags)
  }
  bool discarded = false;
  if (offer_control && has_control_data(msg)) [[unlikely]] {
    discarded = discard_unwanted_control(msg);
  }
  auto size = static_cast<std::size_t>(n);
  const bool truncated = (msg.msg_flags & MSG_TRUNC) != 0 || size > capacity;
  if (truncated && size <= capacity) {
    size = capacity + 1;  // the real size is unknown here: report a lower bound
  }
  return message_extent{size < capacity ? size : capacity, size, truncated, discarded};
}

/// One recvmsg(2) of a whole message, reporting truncation and (on Linux) the real size.
template <bool OfferControl = true>  // (a template: instantiated on first use, see above)
[[nodiscard]] result<message_extent> receive_one_message(int fd, std::span<std::byte> buffer,
                                                         int flags = 0) noexcept {
  iovec iov{buffer.data(), buffer.size()};
  return receive_one_message<OfferControl>(fd, &iov, 1, buffer.size(), flags);
}

/// The iovecs of a span of buffers, past its first `skip` bytes, at most `limit` of them.
/// Holds a few inline; more come from the heap (`new (std::nothrow)`).
class io_vector {
 public:
  io_vector() noexcept = default;
  // Neither copied nor moved: data() may point into the object itself.
  io_vector(const io_vector&) = delete;
  io_vector(io_vector&&) = delete;
  io_vector& operator=(const io_vector&) = delete;
  io_vector& operator=(io_vector&&) = delete;
  // Owns heap_. (Not a std::unique_ptr: <memory> would add 0.1 s to the umbrella header's
  // parse with g++ 12.)
  ~io_vector() { delete[] heap_; }

  /// Describes `buffers` from byte `skip` on. False only when memory ran out.
  template <class Byte>
  [[nodiscard]] bool assign(std::span<const std::span<Byte>> buffers, std::size_t skip,
                            std::size_t limit) noexcept {
    std::size_t first = 0;
    while (first < buffers.size() && skip >= buffers[first].size()) {
      skip -= buffers[first].size();
      ++first;
    }
    const std::size_t left = buffers.size() - first;
    size_ = left < limit ? left : limit;
    bytes_ = 0;
    if (size_ > inline_capacity) {
      // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): owned, see ~io_vector
      heap_ = new (std::nothrow) iovec[size_];
      if (heap_ == nullptr) {
        return false;
      }
      data_ = heap_;
    }
    for (std::size_t i = 0; i < size_; ++i) {
      const std::span<Byte> b = buffers[first + i].subspan(i == 0 ? skip : 0);
      // iovec has no const: sendmsg(2) reads through it and never writes.
      data_[i] = iovec{const_cast<std::byte*>(b.data()), b.size()};
      bytes_ += b.size();
    }
    return true;
  }

  [[nodiscard]] iovec* data() noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Total bytes the iovecs describe.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  static constexpr std::size_t inline_capacity = 16;
  std::array<iovec, inline_capacity> inline_{};
  iovec* heap_ = nullptr;
  iovec* data_ = inline_.data();
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
};

/// One sendmsg(2) of `buffers` past their first `skip` bytes. With `whole_message`, all of
/// them or nothing: more than max_iov buffers fail up front with EMSGSIZE, as the kernel
/// would. Otherwise the first max_iov buffers go out (a short count, as any stream send).
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> send_gather(int fd,
                                              std::span<const std::span<const std::byte>> buffers,
                                              std::size_t skip, bool whole_message,
                                              int flags = 0) noexcept {
  if (whole_message && buffers.size() > max_iov) {
    return errno_code(EMSGSIZE);
  }
  io_vector iov;
  if (!iov.assign(buffers, skip, max_iov)) {
    return errno_code(ENOMEM);
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  const ssize_t n = sendmsg_restarting(fd, &msg, flags | no_sigpipe);
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// One recvmsg(2) on a byte stream into `buffers` past their first `skip` bytes (at most the
/// first max_iov buffers are filled). 0 means orderly EOF; no room at all fails with EINVAL,
/// as `receive_some` does. Descriptors that came with the bytes are closed, and the call
/// fails with `errc::descriptors_discarded` after setting `stored` to the bytes it stored.
template <bool OfferControl = true>  // (a template: instantiated on first use, see above)
[[nodiscard]] result<std::size_t> receive_scatter(int fd,
                                                  std::span<const std::span<std::byte>> buffers,
                                                  std::size_t skip, std::size_t& stored,
                                                  int flags = 0) noexcept {
  io_vector iov;
  if (!iov.assign(buffers, skip, max_iov)) {
    return errno_code(ENOMEM);
  }
  if (iov.bytes() == 0) [[unlikely]] {
    return invalid_argument_error();
  }
  unsolicited_control_buffer control;
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  if constexpr (OfferControl) {
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = control.bytes.size();
  }
  const ssize_t n = recvmsg_restarting(fd, &msg, flags | cmsg_cloexec);
  if (n < 0) {
    return last_errno_code();  // (the kernel wrote back neither msg_controllen nor msg_flags)
  }
  if (OfferControl && has_control_data(msg) && discard_unwanted_control(msg)) [[unlikely]] {
    stored = static_cast<std::size_t>(n);
    return descriptors_discarded_error();
  }
  return static_cast<std::size_t>(n);
}

// ---- Empty message or end of stream -------------------------------------------------------
// recv(2) returns 0 both for an empty message and, on seqpacket, for the end of the stream
// (and on any message socket whose reading side this end has shut down). Linux sets no flag
// that tells them apart (no MSG_EOR on AF_UNIX). What does differ: a dequeued message carries
// its ancillary data, and with SO_PASSCRED on every AF_UNIX message has some (the sender's
// credentials), while the end of the stream has none.

/// Whether `fd` is shut down for reading (by either end), asked without waiting.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<bool> is_shut_down(int fd) noexcept {
#if defined(POLLRDHUP)
  constexpr short shut_events = POLLRDHUP | POLLHUP;
#else
  constexpr short shut_events = POLLHUP;
#endif
  pollfd p{fd, shut_events, 0};
  if (retry_on_eintr([&] { return ::poll(&p, 1, 0); }) < 0) {
    return last_errno_code();
  }
  return (p.revents & shut_events) != 0;
}

#if defined(SO_PASSCRED) && defined(SCM_CREDENTIALS)
/// On an AF_UNIX socket shut down for reading, after a peek returned 0: the end of the
/// stream (true), or an empty message (false)? Nothing more can be queued, and a read no
/// longer blocks. Peeks with SO_PASSCRED on (restoring the caller's setting afterwards): an
/// empty message arrives with credentials attached. (No MSG_DONTWAIT: a dgram socket shut
/// down for reading answers it with EAGAIN instead of 0 once nothing is queued.)
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<bool> credentials_peek_finds_end(int fd) noexcept {
  int was_on = 0;
  socklen_t len = sizeof was_on;
  if (::getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &was_on, &len) != 0) {
    return last_errno_code();
  }
  const int on = 1;
  if (was_on == 0 && ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return last_errno_code();
  }
  // Room for the credentials and nothing else: descriptors a message may carry do not fit
  // (the kernel then installs none); any that did arrive are closed.
  alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(ucred))> control{};
  iovec iov{nullptr, 0};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  const ssize_t n =
      retry_on_eintr([&] { return ::recvmsg(fd, &msg, MSG_PEEK | MSG_TRUNC | MSG_CMSG_CLOEXEC); });
  const int peek_errno = errno;
  if (was_on == 0) {
    const int off = 0;
    static_cast<void>(::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &off, sizeof off));
  }
  if (n < 0) {
    // EAGAIN: another reader took the empty message; whatever comes next, comes next.
    return peek_errno == EAGAIN || peek_errno == EWOULDBLOCK ? result<bool>(false)
                                                             : errno_code(peek_errno);
  }
  // Any control data at all (credentials, or descriptors riding on an empty message, which
  // the peek installed as copies and which are closed here) means a message.
  const bool ancillary = has_control_data(msg);
  if (ancillary) {
    static_cast<void>(discard_unwanted_control(msg));
  }
  return !ancillary && n == 0;
}
#endif

/// After recv(2) with MSG_PEEK returned 0: is the socket at the end of its stream (true), or
/// is an empty message next (false)? Exact on AF_UNIX (`exact`), for one reader at a time.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<bool> zero_means_end_of_stream(int fd, bool exact) noexcept {
  auto shut = is_shut_down(fd);
  if (!shut) {
    return shut.assume_error();
  }
  if (!shut.assume_value()) {
    return false;  // not shut down, so the 0 was a message: shutdown never reverts
  }
#if defined(SO_PASSCRED) && defined(SCM_CREDENTIALS)
  if (exact) {
    return credentials_peek_finds_end(fd);
  }
#else
  static_cast<void>(exact);
#endif
  return true;  // shut down: without ancillary data, a 0 is taken as the end
}

/// Waits (as the socket's blocking mode and timeouts say) for the next message and returns
/// its real size without copying or consuming it; at the end of the stream, fails with
/// `errc::unexpected_eof`. `exact` as above.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> peek_next_message(int fd, bool exact, int flags = 0) noexcept {
  std::byte first{};
  msghdr msg{};
#if defined(__linux__)
  iovec iov{&first, 0};
  flags |= MSG_TRUNC;  // the real length, with nothing copied
#else
  iovec iov{&first, 1};  // elsewhere the size is a lower bound: 1 for a non-empty message
#endif
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const ssize_t n = recvmsg_restarting(fd, &msg, flags | MSG_PEEK);
  if (n < 0) {
    return last_errno_code();
  }
  if (n > 0) {
    return static_cast<std::size_t>(n);
  }
  auto end = zero_means_end_of_stream(fd, exact);
  if (!end) {
    return end.assume_error();
  }
  if (end.assume_value()) {
    return make_error_code(errc::unexpected_eof);
  }
  return std::size_t{0};
}

}  // namespace sockpair::detail
