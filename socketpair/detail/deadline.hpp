// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Durations of any std::chrono type turned into steady_clock deadlines and poll(2) timeouts
// without overflow: a duration too long for the clock is no deadline at all, a negative one is
// a deadline already passed. Nothing here is part of the public interface.
//
// std::chrono's own conversions multiply in the representation's type: 300 years in
// nanoseconds overflows int64 (undefined behaviour, and in practice a deadline in the past).
// Everything here compares in long double first, whose range no duration reaches.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>

#include <climits>
#include <ratio>
#include <type_traits>

namespace sockpair::detail {

using deadline_clock = std::chrono::steady_clock;
using deadline_time = deadline_clock::time_point;

/// No deadline: waits with it never time out.
inline constexpr deadline_time no_deadline = deadline_time::max();

/// `d` in `To` (an integral duration), rounded up, saturating at `To::min()` / `To::max()`.
/// A NaN is zero.
template <class To, class Rep, class Period>
[[nodiscard]] constexpr To saturating_ceil(std::chrono::duration<Rep, Period> d) noexcept {
  static_assert(std::is_integral_v<typename To::rep>);
  using wide = std::chrono::duration<long double, typename To::period>;
  const long double value = std::chrono::duration_cast<wide>(d).count();
  // To::max() as a long double is exact (x87) or rounds up to a power of two (where long
  // double is double); either way, below it the integral conversion cannot overflow, since
  // rounding is monotonic.
  if (!(value < static_cast<long double>(To::max().count()))) {
    return value != value ? To::zero() : To::max();  // NaN compares false everywhere
  }
  if (!(value > static_cast<long double>(To::min().count()))) {
    return To::min();
  }
  using ratio = std::ratio_divide<Period, typename To::period>;
  if constexpr (std::is_integral_v<Rep> && ratio::den == 1) {
    // An exact integral product that fits (checked above): no rounding to lose.
    return std::chrono::duration_cast<To>(d);
  } else if constexpr (std::is_integral_v<Rep> && ratio::num == 1) {
    return std::chrono::ceil<To>(d);  // a division: no intermediate overflow
  } else {
    const auto whole = static_cast<typename To::rep>(value);  // toward zero
    return To(static_cast<long double>(whole) < value ? whole + 1 : whole);
  }
}

/// The time point `d` after `now`: `now` itself when `d` is zero, negative or NaN (a deadline
/// already due), `no_deadline` when `now + d` is past the clock's range.
template <class Rep, class Period>
[[nodiscard]] constexpr deadline_time deadline_after(std::chrono::duration<Rep, Period> d,
                                                     deadline_time now) noexcept {
  if (!(d > d.zero())) {
    return now;
  }
  const auto step = saturating_ceil<deadline_clock::duration>(d);
  // With `now` negative (no steady clock starts there, but the type allows it), `now + step`
  // cannot overflow; otherwise it does exactly when `step` reaches the room left.
  if (now.time_since_epoch().count() >= 0 &&
      step >= no_deadline.time_since_epoch() - now.time_since_epoch()) {
    return no_deadline;
  }
  return now + step;
}

/// The deadline `d` from now (see above).
template <class Rep, class Period>
[[nodiscard]] deadline_time deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return deadline_after(d, deadline_clock::now());
}

/// What poll(2) should wait for `until` at `now`: -1 (forever) for `no_deadline`; otherwise
/// the milliseconds left, rounded up so that a wait is never cut short, at least 0 and at
/// most INT_MAX (a clamped wait wakes early, and the caller waits again for the rest).
[[nodiscard]] constexpr int milliseconds_left(deadline_time until, deadline_time now) noexcept {
  if (until == no_deadline) {
    return -1;
  }
  if (until <= now) {
    return 0;
  }
  // until > now: the difference is positive; only a negative `now` could overflow it.
  const auto until_ns = until.time_since_epoch().count();
  const auto now_ns = now.time_since_epoch().count();
  if (now_ns < 0 && until_ns > deadline_clock::duration::max().count() + now_ns) {
    return INT_MAX;
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

[[nodiscard]] inline int milliseconds_left(deadline_time until) noexcept {
  return until == no_deadline ? -1 : milliseconds_left(until, deadline_clock::now());
}

}  // namespace sockpair::detail
