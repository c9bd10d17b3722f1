// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::transfer`: bytes bound to how much of them has moved, so that a transfer that
// stops part-way (a would-block, a deadline, a signal's error) resumes exactly where it
// stopped, and the progress of one transfer cannot be applied to other bytes.
//
//   sockpair::outgoing out(message);            // binds the bytes; nothing is sent yet
//   auto sent = end.send_all(out, 50ms);        // stops at the deadline ...
//   if (!sent) {
//     use(out.done());                          // ... with exactly this many bytes sent;
//     sent = end.send_all(out);                 // the same transfer resumes after them
//   }
//
// Why an object rather than a counter beside the buffer: with `send_all(data, done)`, calling
// `send_all("second-message", done)` with the counter left by "first-" skipped six bytes of the
// second message, and nothing could tell. A transfer holds its bytes, so progress can only
// advance through the bytes it counts. It is move-only (a copy would be a second, diverging
// record of one transfer) and the calls take it by lvalue reference (a temporary transfer
// would take the progress of a failed call with it).
//
// Only the library advances a transfer; `done()` never exceeds `size()`.
#pragma once

#include <socketpair/byte_range.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/sizes.hpp>

#include <cstddef>
#include <span>
#include <type_traits>

namespace sockpair {

namespace detail {
struct transfer_access;
}  // namespace detail

namespace detail {
// What a transfer may point into: bytes (or an array of buffers) still there after the
// statement that made the transfer. The comments are what a compiler prints on refusal.
template <class R>
concept lasting_bytes =
    byte_range<R> && outlives_the_call<R>;  // sockpair: the bytes of a temporary die with it
template <class R, class Buffers>
concept lasting_buffers = std::is_convertible_v<R, Buffers> &&
    outlives_the_call<R>;  // sockpair: a temporary array of buffers dies with it
}  // namespace detail

/// Bytes and how many of them have moved. `Bytes` is one of:
/// - `std::span<const std::byte>` (`outgoing`): one buffer to send;
/// - `std::span<std::byte>` (`incoming`): one buffer to fill;
/// - `std::span<const std::span<const std::byte>>` (`outgoing_buffers`): buffers to send in
///   order (gather), progress counted across all of them;
/// - `std::span<const std::span<std::byte>>` (`incoming_buffers`): buffers to fill in order
///   (scatter).
/// The transfer borrows the bytes (and, for the multi-buffer forms, the array of spans): both
/// must outlive it.
template <class Bytes>
class transfer {
  static constexpr bool sending_one = std::is_same_v<Bytes, std::span<const std::byte>>;
  static constexpr bool receiving_one = std::is_same_v<Bytes, std::span<std::byte>>;
  static constexpr bool multiple =
      std::is_same_v<Bytes, std::span<const std::span<const std::byte>>> ||
      std::is_same_v<Bytes, std::span<const std::span<std::byte>>>;
  static_assert(sending_one || receiving_one || multiple,
                "sockpair::transfer: outgoing, incoming, outgoing_buffers or incoming_buffers");

 public:
  // The constraints keep these from ever taking a transfer (they hide no copy or move).
  // NOLINTBEGIN(bugprone-forwarding-reference-overload)
  /// To send: any byte range that outlives the transfer (a named container, or a view such as
  /// std::span or std::string_view). A temporary container is refused: the transfer would
  /// point into storage that dies at the end of the statement.
  template <detail::lasting_bytes R>
  requires sending_one explicit transfer(R&& bytes) noexcept
      : bytes_(bytes_of(bytes)), size_(bytes_.size()) {}

  /// To receive into: any writable byte range that outlives the transfer (see
  /// `receive_buffer`).
  template <receive_buffer R>
  requires receiving_one explicit transfer(R&& buffer) noexcept
      : bytes_(writable_bytes_of(buffer)), size_(bytes_.size()) {}

  /// Several buffers, in order: anything that converts to the span of spans and outlives the
  /// transfer (the array of spans is borrowed, not copied).
  template <detail::lasting_buffers<Bytes> R>
  requires multiple explicit transfer(R&& buffers) noexcept
      : bytes_(buffers), size_(detail::total_size(bytes_)) {}
  // NOLINTEND(bugprone-forwarding-reference-overload)

  transfer(transfer&&) noexcept = default;
  transfer& operator=(transfer&&) noexcept = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer() = default;

  /// Bytes that have moved: exact after every call, successful or not.
  [[nodiscard]] std::size_t done() const noexcept { return done_; }

  /// All the bytes: `done()` reaches this when the transfer is complete.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Bytes still to move.
  [[nodiscard]] std::size_t left() const noexcept { return size_ - done_; }

  /// True once every byte has moved.
  [[nodiscard]] bool complete() const noexcept { return done_ == size_; }

  /// The bytes (or buffers) this transfer moves, all of them.
  [[nodiscard]] Bytes bytes() const noexcept { return bytes_; }

  /// The bytes not yet moved (single-buffer transfers).
  [[nodiscard]] Bytes remaining() const noexcept requires(!multiple) {
    return bytes_.subspan(done_);
  }

 private:
  friend struct detail::transfer_access;

  Bytes bytes_;
  std::size_t size_;
  std::size_t done_ = 0;
};

/// One buffer to send.
using outgoing = transfer<std::span<const std::byte>>;
/// One buffer to fill.
using incoming = transfer<std::span<std::byte>>;
/// Buffers to send in order, as one stream of bytes (gather).
using outgoing_buffers = transfer<std::span<const std::span<const std::byte>>>;
/// Buffers to fill in order, as one stream of bytes (scatter).
using incoming_buffers = transfer<std::span<const std::span<std::byte>>>;

namespace detail {
// How the library's calls advance a transfer; not for users (`done()` must stay exact).
struct transfer_access {
  template <class Bytes>
  static std::size_t& done(transfer<Bytes>& t) noexcept {
    return t.done_;
  }
};
}  // namespace detail

}  // namespace sockpair
