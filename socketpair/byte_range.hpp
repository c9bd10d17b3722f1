// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Which containers the I/O calls take as bytes, without copying.
//
//   std::string text = "hello";
//   sock.send(text);                              // sends the 5 bytes in place
//   std::array<std::uint8_t, 64> buffer;
//   auto got = sock.receive(buffer);              // receives into the array itself
//
// A byte range is any contiguous, sized range of 1-byte trivially copyable elements:
// std::string, std::string_view, std::vector<char>, std::array<std::uint8_t, N>,
// std::span<std::byte>, C arrays of unsigned char or std::byte, ... Receiving needs a
// *writable* byte range (elements not const) that outlives the call: a named buffer, or a
// view (std::span) of one. A temporary container is refused at compile time, since what it
// received would die with it. Arrays of `char` are not byte ranges for sending: a string
// literal would send its terminating NUL too. Wrap it in std::string_view.
#pragma once

#include <socketpair/detail/config.hpp>

#include <concepts>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

namespace sockpair {

namespace detail {

// std::data(r) is a pointer to r's elements and std::size(r) counts them: the C++17 notion of
// a contiguous container, which needs no <ranges> (a tenth of a second per translation unit).
template <class R>
concept contiguous_sized = requires(R& r) {
  requires std::is_pointer_v<decltype(std::data(r))>;
  { std::size(r) } -> std::convertible_to<std::size_t>;
};

template <class R>
using range_element_t = std::remove_pointer_t<decltype(std::data(std::declval<R&>()))>;

template <class E>
inline constexpr bool is_byte_like_v =
    sizeof(E) == 1 &&
    !std::is_volatile_v<E> && std::is_trivially_copyable_v<std::remove_const_t<E>>;

// A C array of char or char8_t: almost always a string literal or a C string buffer.
template <class R, class E = std::remove_cv_t<std::remove_all_extents_t<std::remove_cvref_t<R>>>>
inline constexpr bool is_char_array_v = std::is_array_v<std::remove_cvref_t<R>> &&
                                        (std::is_same_v<E, char> || std::is_same_v<E, char8_t>);

// An lvalue, or a view of storage that lives elsewhere: still there when the call returns.
template <class R>
inline constexpr bool outlives_the_call =
    std::is_lvalue_reference_v<R> || std::ranges::enable_borrowed_range<std::remove_cvref_t<R>>;

}  // namespace detail

/// A contiguous, sized range of 1-byte trivially copyable elements that can be sent as is.
template <class R>
concept byte_range = detail::contiguous_sized<R> &&
    detail::is_byte_like_v<detail::range_element_t<R>> && !detail::is_char_array_v<R>;

/// A contiguous, sized range of 1-byte trivially copyable, non-const elements: something
/// that can be received into. (Arrays of char are allowed here: filling one is fine.)
template <class R>
concept writable_byte_range =
    detail::contiguous_sized<R> && detail::is_byte_like_v<detail::range_element_t<R>> &&
    !std::is_const_v<detail::range_element_t<R>>;

/// What a receive may fill: a writable byte range that the caller can still read when the call
/// returns. `R` is deduced from a forwarding reference: an lvalue (a named buffer), or a view
/// whose storage lives elsewhere (std::span, ...; `std::ranges::enable_borrowed_range`). A
/// temporary container (`receive(std::string(64, '\0'))`) is not: the bytes received into
/// it, consumed from the socket, would be destroyed at the end of the statement.
template <class R>
concept receive_buffer = writable_byte_range<R> &&
    detail::outlives_the_call<R>;  // sockpair: receiving into a temporary loses the data

/// The bytes of `r`, in place: no copy.
template <byte_range R>
[[nodiscard]] std::span<const std::byte> bytes_of(const R& r) noexcept {
  return {reinterpret_cast<const std::byte*>(std::data(r)), static_cast<std::size_t>(std::size(r))};
}

/// Refused: the span would outlive the temporary container it points into.
/// (Not clang-formatted: a compiler prints the line of a deleted function's declaration, and
/// the comment on it is the message.)
// clang-format off
template <byte_range R>
requires(!detail::outlives_the_call<const R&&>)
void bytes_of(const R&&) = delete;  // sockpair: the bytes of a temporary die with it
// clang-format on

/// The bytes of `r`, writable, in place: no copy.
template <class R>
requires receive_buffer<R>
[[nodiscard]] std::span<std::byte> writable_bytes_of(R&& r) noexcept {
  return {reinterpret_cast<std::byte*>(std::data(r)), static_cast<std::size_t>(std::size(r))};
}

}  // namespace sockpair
