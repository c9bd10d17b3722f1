// detail/deadline.hpp: durations of any type to steady_clock deadlines and poll(2) timeouts,
// saturating at both ends. Checked against a fixed "now", so nothing here depends on time;
// run under --config=ubsan too, which would report any overflow in the arithmetic.
#include <socketpair/detail/deadline.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ratio>

namespace sockpair::detail {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using years = std::chrono::duration<std::int64_t, std::ratio<31556952>>;
using seconds_f = std::chrono::duration<double>;

constexpr deadline_time at(nanoseconds since_epoch) { return deadline_time(since_epoch); }
constexpr deadline_time now = at(hours(24 * 365));  // a year after boot

TEST(SaturatingCeil, ExactWhereItFits) {
  EXPECT_EQ(saturating_ceil<nanoseconds>(years(200)), nanoseconds(years(200)));
  EXPECT_EQ(saturating_ceil<milliseconds>(nanoseconds(1)), milliseconds(1));
  EXPECT_EQ(saturating_ceil<milliseconds>(nanoseconds(-1)), milliseconds(0));
  EXPECT_EQ(saturating_ceil<milliseconds>(nanoseconds(1'000'000)), milliseconds(1));
  EXPECT_EQ(saturating_ceil<microseconds>(seconds_f(0.25)), microseconds(250'000));
  EXPECT_EQ(saturating_ceil<microseconds>(seconds_f(1e-9)), microseconds(1));
  EXPECT_EQ(saturating_ceil<nanoseconds>(nanoseconds::max()), nanoseconds::max());
  EXPECT_EQ(saturating_ceil<nanoseconds>(nanoseconds::min()), nanoseconds::min());
}

TEST(SaturatingCeil, SaturatesPastEitherEnd) {
  EXPECT_EQ(saturating_ceil<nanoseconds>(years(300)), nanoseconds::max());
  EXPECT_EQ(saturating_ceil<nanoseconds>(-years(300)), nanoseconds::min());
  EXPECT_EQ(saturating_ceil<nanoseconds>(hours::max()), nanoseconds::max());
  EXPECT_EQ(saturating_ceil<microseconds>(years(400'000)), microseconds::max());
  EXPECT_EQ(saturating_ceil<nanoseconds>(seconds_f(1e300)), nanoseconds::max());
  EXPECT_EQ(saturating_ceil<nanoseconds>(seconds_f(-1e300)), nanoseconds::min());
  EXPECT_EQ(saturating_ceil<nanoseconds>(seconds_f(std::numeric_limits<double>::infinity())),
            nanoseconds::max());
  EXPECT_EQ(saturating_ceil<nanoseconds>(seconds_f(std::nan(""))), nanoseconds::zero());
}

TEST(DeadlineAfter, AddsWhatFitsAndIsNoDeadlinePastTheClock) {
  EXPECT_EQ(deadline_after(milliseconds(5), now), now + milliseconds(5));
  EXPECT_EQ(deadline_after(seconds_f(1.5), now), now + milliseconds(1500));
  EXPECT_EQ(deadline_after(years(200), now), now + years(200));
  EXPECT_EQ(deadline_after(years(300), now), no_deadline);
  EXPECT_EQ(deadline_after(hours::max(), now), no_deadline);
  EXPECT_EQ(deadline_after(seconds_f(1e300), now), no_deadline);
  // Room for less than 292 years after a year of uptime: the sum itself must saturate.
  EXPECT_EQ(deadline_after(nanoseconds::max() - nanoseconds(1), now), no_deadline);
}

TEST(DeadlineAfter, ZeroNegativeAndNaNAreDueNow) {
  EXPECT_EQ(deadline_after(nanoseconds(0), now), now);
  EXPECT_EQ(deadline_after(-years(300), now), now);
  EXPECT_EQ(deadline_after(hours::min(), now), now);
  EXPECT_EQ(deadline_after(seconds_f(-1e300), now), now);
  EXPECT_EQ(deadline_after(seconds_f(std::nan("")), now), now);
}

TEST(MillisecondsLeft, RoundsUpClampsAndSaysForeverForNoDeadline) {
  EXPECT_EQ(milliseconds_left(no_deadline, now), -1);
  EXPECT_EQ(milliseconds_left(no_deadline), -1);
  EXPECT_EQ(milliseconds_left(now, now), 0);
  EXPECT_EQ(milliseconds_left(now - hours(1), now), 0);
  EXPECT_EQ(milliseconds_left(deadline_time::min(), now), 0);
  EXPECT_EQ(milliseconds_left(now + nanoseconds(1), now), 1);
  EXPECT_EQ(milliseconds_left(now + milliseconds(1500), now), 1500);
  EXPECT_EQ(milliseconds_left(now + hours(24 * 365 * 100), now), INT_MAX);
  EXPECT_EQ(milliseconds_left(deadline_time::max() - nanoseconds(1), at(nanoseconds::min())),
            INT_MAX);
  EXPECT_EQ(milliseconds_left(deadline_clock::now() - hours(1)), 0);
}

}  // namespace
}  // namespace sockpair::detail
