// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::deadline`: when a blocking call gives up, as a point on the steady clock.
//
// Built implicitly from a std::chrono duration (relative to now) or a steady_clock time point,
// so a call reads `channel.receive(buffer, 5ms)` or `channel.receive(buffer, until)`. Every
// conversion saturates (detail/deadline.hpp): a duration or time point past the clock's range
// is "never", a zero or negative duration is "already passed" (the call checks once and does
// not wait). Nothing overflows, whatever the representation (hours::max(), a double, a NaN:
// NaN is "passed"); a duration finer than the clock's tick rounds up.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/deadline.hpp>

#include <ctime>

namespace sockpair {

/// A point on `std::chrono::steady_clock` after which a blocking call stops waiting.
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  /// Never: the call waits as long as it takes.
  constexpr deadline() noexcept = default;

  /// At `at` (any steady_clock time point; one past the clock's range is never).
  template <class Duration>
  constexpr deadline(std::chrono::time_point<clock, Duration> at) noexcept  // NOLINT: implicit
      : at_(clock::time_point(detail::saturating_ceil<clock::duration>(at.time_since_epoch()))) {}

  /// `timeout` from now. Zero or negative: already passed. Past the clock's range: never.
  template <class Rep, class Period>
  deadline(std::chrono::duration<Rep, Period> timeout) noexcept  // NOLINT: implicit, by design
      : at_(timeout > timeout.zero() ? detail::deadline_after(timeout) : clock::time_point::min()) {
  }

  /// A deadline that never passes.
  [[nodiscard]] static constexpr deadline never() noexcept { return {}; }

  /// A deadline that has already passed: a call checks once and does not wait.
  [[nodiscard]] static constexpr deadline passed() noexcept { return {clock::time_point::min()}; }

  /// The time point; `clock::time_point::max()` for never.
  [[nodiscard]] constexpr clock::time_point at() const noexcept { return at_; }

  /// True for a deadline that never passes.
  [[nodiscard]] constexpr bool is_never() const noexcept { return at_ == clock::time_point::max(); }

  /// Time left from `now`: zero once passed, `clock::duration::max()` for never.
  [[nodiscard]] constexpr clock::duration left(clock::time_point now) const noexcept {
    if (is_never()) {
      return clock::duration::max();
    }
    return at_ <= now ? clock::duration::zero() : at_ - now;
  }

  /// True once `now` has reached the deadline.
  [[nodiscard]] constexpr bool passed_at(clock::time_point now) const noexcept {
    return !is_never() && now >= at_;
  }

  /// The time left from `now` as a timespec for ppoll(2); false (and nothing set) for never.
  [[nodiscard]] bool timespec_left(clock::time_point now, ::timespec& out) const noexcept {
    if (is_never()) {
      return false;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left(now)).count();
    out.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    out.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    return true;
  }

 private:
  clock::time_point at_ = clock::time_point::max();
};

}  // namespace sockpair
