// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The system calls behind socket's I/O members, each with the library's EINTR and SIGPIPE
// policy applied once. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/sigpipe.hpp>
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

/// One recv(2) on a byte stream; 0 means orderly EOF. An empty buffer fails with EINVAL and
/// receives nothing: recv(2) would return 0 for it, the end-of-stream value, with data queued.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> receive_some(int fd, std::span<std::byte> buffer,
                                               int flags = 0) noexcept {
  if (buffer.empty()) [[unlikely]] {
    return invalid_argument_error();
  }
  const ssize_t n = recv_restarting(fd, buffer, 0, flags);
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// What one recvmsg(2) of a whole message saw.
struct message_extent {
  std::size_t stored;        // bytes written to the buffer
  std::size_t message_size;  // the message's real size (exact on Linux; >= stored elsewhere)
  bool truncated;            // the message did not fit and its tail was discarded
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
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<message_extent> receive_one_message(int fd, iovec* iov, std::size_t count,
                                                         std::size_t capacity,
                                                         int flags = 0) noexcept {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
#if defined(__linux__)
  flags |= MSG_TRUNC;  // Linux then returns the message's real length
#endif
  const ssize_t n = recvmsg_restarting(fd, &msg, flags);
  if (n < 0) {
    return last_errno_code();
  }
  auto size = static_cast<std::size_t>(n);
  const bool truncated = (msg.msg_flags & MSG_TRUNC) != 0 || size > capacity;
  if (truncated && size <= capacity) {
    size = capacity + 1;  // the real size is unknown here: report a lower bound
  }
  return message_extent{size < capacity ? size : capacity, size, truncated};
}

/// One recvmsg(2) of a whole message, reporting truncation and (on Linux) the real size.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<message_extent> receive_one_message(int fd, std::span<std::byte> buffer,
                                                         int flags = 0) noexcept {
  iovec iov{buffer.data(), buffer.size()};
  return receive_one_message(fd, &iov, 1, buffer.size(), flags);
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

/// Total bytes in a span of buffers.
template <class Byte>
[[nodiscard]] std::size_t total_size(std::span<const std::span<Byte>> buffers) noexcept {
  std::size_t total = 0;
  for (const auto& b : buffers) {
    total += b.size();
  }
  return total;
}

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
/// as `receive_some` does.
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] result<std::size_t> receive_scatter(int fd,
                                                  std::span<const std::span<std::byte>> buffers,
                                                  std::size_t skip, int flags = 0) noexcept {
  io_vector iov;
  if (!iov.assign(buffers, skip, max_iov)) {
    return errno_code(ENOMEM);
  }
  if (iov.bytes() == 0) [[unlikely]] {
    return invalid_argument_error();
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  const ssize_t n = recvmsg_restarting(fd, &msg, flags);
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// Calls `one(done)` (one syscall, returning a count) until `total` bytes have gone through,
/// advancing `done`. A 0 count is `at_zero` (a premature EOF when receiving).
template <class One>
[[nodiscard]] result<std::size_t> transfer_all(std::size_t total, std::size_t& done,
                                               std::error_code at_zero, One one) noexcept {
  if (done > total) {
    return errno_code(EINVAL);
  }
  while (done < total) {
    auto moved = one(done);
    if (!moved) {
      return moved.assume_error();
    }
    if (moved.assume_value() == 0) {
      return at_zero;
    }
    done += moved.assume_value();
  }
  return done;
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
    static_cast<void>(::close(fd));  // errors ignored, as unique_fd's destructor does
  });
}

#if defined(SO_PASSCRED) && defined(SCM_CREDENTIALS)
/// Closes the descriptors that SCM_RIGHTS messages in `msg` installed in this process.
/// True when `msg` came with ancillary data of any kind (or had some cut off).
template <class = void>  // instantiated on first use (see above)
[[nodiscard]] bool discard_ancillary(msghdr& msg) noexcept {
  bool ancillary = (msg.msg_flags & MSG_CTRUNC) != 0;
  if (msg.msg_controllen == 0) {
    return ancillary;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    ancillary = true;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    close_received(reinterpret_cast<const std::byte*>(CMSG_DATA(c)),
                   (c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
  }
  return ancillary;
}

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
  return !discard_ancillary(msg) && n == 0;
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
