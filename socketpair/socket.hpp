// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::socket<Type, Domain>`: one end of a pair, owning its descriptor.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/result.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <utility>

namespace sockpair {

template <socket_type Type, socket_domain Domain>
class socket_pair;

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

 private:
  friend class socket_pair<Type, Domain>;

  explicit socket(unique_fd fd) noexcept : fd_(std::move(fd)) {}

  unique_fd fd_;
};

}  // namespace sockpair
