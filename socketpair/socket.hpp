// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::socket<Type, Domain>`: one end of a pair, owning its descriptor.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <sys/socket.h>

#include <cstddef>
#include <span>
#include <utility>

namespace sockpair {

template <socket_type Type, socket_domain Domain>
class socket_pair;

/// Which direction(s) `socket::shutdown()` closes.
enum class shutdown_how { read = SHUT_RD, write = SHUT_WR, both = SHUT_RDWR };

/// One connected end of a socket pair. Move-only; a moved-from socket is empty.
///
/// `Type` and `Domain` are fixed at compile time, so a function that takes a
/// `socket<seqpacket>&` cannot be handed a stream by mistake.
template <socket_type Type, socket_domain Domain = unix_domain>
class socket {
  static_assert(detail::require_pairable<Domain, Type>());

 public:
  using type = Type;
  using domain = Domain;

  /// An empty socket (owns no descriptor).
  socket() noexcept = default;

  socket(socket&&) noexcept = default;
  socket& operator=(socket&&) noexcept = default;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  ~socket() = default;

  /// The descriptor, still owned by this socket; -1 when empty.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

  /// The owner of the descriptor, for code that works on `unique_fd`.
  [[nodiscard]] const unique_fd& fd() const noexcept { return fd_; }

  /// True when the socket owns a descriptor.
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

  /// Gives up ownership: the caller (or the library it hands the descriptor to) now owns it.
  [[nodiscard]] int release() noexcept { return fd_.release(); }

  /// Closes the descriptor now and reports close(2)'s error; see `unique_fd::close()`.
  [[nodiscard]] result<void> close() noexcept { return fd_.close(); }

  // ---- I/O --------------------------------------------------------------------------------
  // Blocking calls interrupted by a signal are restarted. Writing to a pair whose peer is
  // closed fails with EPIPE and never raises SIGPIPE. On a non-blocking socket, a call that
  // would block fails with an error equal to std::errc::operation_would_block.

  /// One send(2). On a stream, the count may be short (see `send_all`). On a message socket,
  /// `data` is one whole message: it is sent entirely or not at all (EMSGSIZE past the limit).
  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data) noexcept {
    return detail::send_some(native_handle(), data);
  }

  /// Stream: one recv(2); the count may be short, and 0 means the peer shut down its writing
  /// side (orderly EOF).
  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept
      requires(!Type::message_oriented) {
    return detail::receive_some(native_handle(), buffer);
  }

  /// Message socket: receives one whole message and returns its size (0 is a valid empty
  /// message). A message longer than `buffer` is never cut silently: the call fails with
  /// `errc::message_truncated`, the buffer holds the message's head, and the rest is gone.
  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept
      requires(Type::message_oriented) {
    auto extent = detail::receive_one_message(native_handle(), buffer);
    if (!extent) {
      return extent.error();
    }
    if (extent.value().truncated) {
      return make_error_code(errc::message_truncated);
    }
    return extent.value().stored;
  }

  /// Stream: sends `data[done..]` until all of it is sent, advancing `done` as bytes go out.
  /// On failure `done` says exactly how much was sent, so calling again with the same
  /// `data` and `done` resumes without repeating or skipping a byte. Returns `data.size()`.
  [[nodiscard]] result<std::size_t> send_all(std::span<const std::byte> data,
                                             std::size_t& done) noexcept
      requires(!Type::message_oriented) {
    if (done > data.size()) {
      return make_error_code(std::errc::invalid_argument);
    }
    while (done < data.size()) {
      auto sent = send(data.subspan(done));
      if (!sent) {
        return sent.error();
      }
      done += sent.value();
    }
    return done;
  }

  /// Stream: sends all of `data`. On failure, how much went out is lost; use the overload
  /// with `done` where a retry must resume.
  [[nodiscard]] result<std::size_t> send_all(std::span<const std::byte> data) noexcept
      requires(!Type::message_oriented) {
    std::size_t done = 0;
    return send_all(data, done);
  }

  /// Stream: fills `buffer[done..]` completely, advancing `done` as bytes arrive. EOF before
  /// the buffer is full fails with `errc::unexpected_eof` (`done` bytes did arrive). Resumes
  /// like `send_all`. Returns `buffer.size()`.
  [[nodiscard]] result<std::size_t> receive_exact(std::span<std::byte> buffer,
                                                  std::size_t& done) noexcept
      requires(!Type::message_oriented) {
    if (done > buffer.size()) {
      return make_error_code(std::errc::invalid_argument);
    }
    while (done < buffer.size()) {
      auto got = receive(buffer.subspan(done));
      if (!got) {
        return got.error();
      }
      if (got.value() == 0) {
        return make_error_code(errc::unexpected_eof);
      }
      done += got.value();
    }
    return done;
  }

  /// Stream: fills all of `buffer`; see the overload with `done`.
  [[nodiscard]] result<std::size_t> receive_exact(std::span<std::byte> buffer) noexcept
      requires(!Type::message_oriented) {
    std::size_t done = 0;
    return receive_exact(buffer, done);
  }

  /// shutdown(2): after `write` (or `both`) the peer reads EOF, and may still answer if only
  /// `write` was shut.
  [[nodiscard]] result<void> shutdown(shutdown_how how) noexcept {
    return detail::check(::shutdown(native_handle(), static_cast<int>(how)));
  }

 private:
  friend class socket_pair<Type, Domain>;

  explicit socket(unique_fd fd) noexcept : fd_(std::move(fd)) {}

  unique_fd fd_;
};

}  // namespace sockpair
