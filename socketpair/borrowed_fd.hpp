// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::borrowed_fd`: a descriptor used for the length of a call, owned by someone else
// (Rust's BorrowedFd). What the calls that use a descriptor without taking it accept
// (`send_with_fds`), so that a raw number cannot slip in by accident:
//
//   sockpair::send_with_fds(sock, data, {file, other_end});   // a unique_fd, a socket
//   sockpair::send_with_fds(sock, data, {sockpair::borrowed_fd::borrow_raw(STDIN_FILENO)});
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/unique_fd.hpp>

#include <concepts>
#include <type_traits>

namespace sockpair {

/// A view of one open descriptor that its owner keeps open for as long as the view is used.
/// Trivially copyable, the size of an `int`; never empty unless borrowed from an empty owner.
///
/// Made implicitly from a `unique_fd` or a `socket` lvalue (anything whose `native_handle()`
/// is the `int` it owns), never from a temporary owner, which would close the descriptor
/// while it is still borrowed, and never from a bare `int`: `borrow_raw` says that the
/// caller vouches for it.
class borrowed_fd {
 public:
  /// Borrows the descriptor `owner` holds (-1 if it holds none).
  // NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions): a view, by design
  constexpr borrowed_fd(const unique_fd& owner) noexcept : fd_(owner.get()) {}

  /// Borrows the descriptor of a socket or another owner with `int native_handle() const`.
  template <class Owner>
  requires requires(const Owner& owner) {
    { owner.native_handle() } -> std::same_as<int>;
  }
  // NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions): a view, by design
  constexpr borrowed_fd(const Owner& owner) noexcept : fd_(owner.native_handle()) {}

  /// Refused: the temporary owner would close the descriptor while it is borrowed. (Only
  /// owners with a native_handle(), which borrowed_fd has not: no copy or move is hidden.)
  borrowed_fd(unique_fd&&) = delete;
  // NOLINTBEGIN(bugprone-forwarding-reference-overload)
  template <class Owner>
  requires(!std::is_lvalue_reference_v<Owner> && requires(const Owner& owner) {
    { owner.native_handle() } -> std::same_as<int>;
  }) borrowed_fd(Owner&&)
  = delete;
  // NOLINTEND(bugprone-forwarding-reference-overload)

  /// Borrows `fd` as it is: the caller vouches that it stays open while the view is used.
  [[nodiscard]] static constexpr borrowed_fd borrow_raw(int fd) noexcept { return borrowed_fd(fd); }

  /// The descriptor number, still owned elsewhere.
  [[nodiscard]] constexpr int get() const noexcept { return fd_; }

 private:
  constexpr explicit borrowed_fd(int fd) noexcept : fd_(fd) {}

  int fd_;
};

static_assert(sizeof(borrowed_fd) == sizeof(int) && std::is_trivially_copyable_v<borrowed_fd>);

}  // namespace sockpair
