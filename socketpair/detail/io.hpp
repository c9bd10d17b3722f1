// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The system calls behind socket's I/O members, each with the library's EINTR and SIGPIPE
// policy applied once. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <span>

namespace sockpair::detail {

// Writing to a pair whose peer is gone must return EPIPE, never raise SIGPIPE, and the
// library must not change the process's signal dispositions to get there.
#if defined(MSG_NOSIGNAL)
inline constexpr int no_sigpipe = MSG_NOSIGNAL;
#else
inline constexpr int no_sigpipe = 0;  // macOS: SO_NOSIGPIPE is set on the socket instead
#endif

/// One send(2); blocking calls interrupted by a signal are restarted.
[[nodiscard]] inline result<std::size_t> send_some(int fd, std::span<const std::byte> data,
                                                   int flags = 0) noexcept {
  const ssize_t n =
      retry_on_eintr([&] { return ::send(fd, data.data(), data.size(), flags | no_sigpipe); });
  if (n < 0) {
    return last_errno_code();
  }
  return static_cast<std::size_t>(n);
}

/// One recv(2) on a byte stream; 0 means orderly EOF (or an empty buffer).
[[nodiscard]] inline result<std::size_t> receive_some(int fd, std::span<std::byte> buffer,
                                                      int flags = 0) noexcept {
  const ssize_t n = retry_on_eintr([&] { return ::recv(fd, buffer.data(), buffer.size(), flags); });
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

/// One recvmsg(2) of a whole message, reporting truncation and (on Linux) the real size.
[[nodiscard]] inline result<message_extent> receive_one_message(int fd, std::span<std::byte> buffer,
                                                                int flags = 0) noexcept {
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
#if defined(__linux__)
  flags |= MSG_TRUNC;  // Linux then returns the message's real length
#endif
  const ssize_t n = retry_on_eintr([&] { return ::recvmsg(fd, &msg, flags); });
  if (n < 0) {
    return last_errno_code();
  }
  const auto size = static_cast<std::size_t>(n);
  const bool truncated = (msg.msg_flags & MSG_TRUNC) != 0 || size > buffer.size();
  return message_extent{size < buffer.size() ? size : buffer.size(), size, truncated};
}

}  // namespace sockpair::detail
