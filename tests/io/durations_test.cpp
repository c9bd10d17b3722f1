// Durations of any std::chrono type, however long or negative, given to waits and socket
// timeouts: saturated, never overflowed. A wait too long for the clock is a wait without a
// timeout; a negative one is a check. Run under --config=ubsan as well, which reports any
// signed overflow in the conversions. Only outcomes are asserted, never durations.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <ratio>
#include <string_view>
#include <thread>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

using years = std::chrono::duration<std::int64_t, std::ratio<31556952>>;
using std::chrono::microseconds;

// Runs `wait(socket)` on a thread with nothing to read, gives it 200 ms to come back on its own
// (a wait that is still running then is what every long wait must be), then sends a byte.
// Returns what the wait returned, and whether it had returned before the byte was sent. Only
// "returned early" is ever asserted against: a correct long wait cannot return before the
// byte, however slow the machine, so no assertion depends on timing.
template <class Wait>
std::pair<result<readiness>, bool> wait_then_send(Wait wait) {
  auto pair = socket_pair<stream>::create().value();
  std::optional<result<readiness>> outcome;
  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    outcome = wait(pair.second);
    finished = true;
  });
  for (int i = 0; i < 200 && !finished; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const bool early = finished;
  EXPECT_TRUE(pair.first.send(std::string_view("x")));
  waiter.join();
  return {*outcome, early};
}

TEST(WaitDurations, ThreeHundredYearsIsNoTimeout) {
  // 300 years of nanoseconds overflows int64: it must not become a timeout in the past.
  auto [outcome, early] = wait_then_send([](auto& s) { return s.wait_readable(years(300)); });
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_FALSE(early) << "the wait ended before anything was sent";
  EXPECT_EQ(outcome.value(), readiness::ready);
}

TEST(WaitDurations, TheLongestHoursAreNoTimeout) {
  auto [outcome, early] =
      wait_then_send([](auto& s) { return s.wait_readable(std::chrono::hours::max()); });
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_FALSE(early) << "the wait ended before anything was sent";
  EXPECT_EQ(outcome.value(), readiness::ready);
}

// Runs `wait(socket)` with nothing to read, ever: a negative timeout must come back at once
// with `timed_out`. (Had it overflowed into a long wait, the test's timeout would end it.)
template <class Wait>
result<readiness> wait_with_nothing_to_read(Wait wait) {
  auto pair = socket_pair<stream>::create().value();
  return wait(pair.second);
}

TEST(WaitDurations, MinusThreeHundredYearsIsACheckThatDoesNotWait) {
  // Overflowing, -300 years of nanoseconds wraps to +284 years: a wait, not a check.
  auto outcome = wait_with_nothing_to_read([](auto& s) { return s.wait_readable(-years(300)); });
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_EQ(outcome.value(), readiness::timed_out);
}

TEST(WaitDurations, AnyDurationTypeIsAcceptedAndSaturated) {
  auto [huge, early_h] =
      wait_then_send([](auto& s) { return s.wait_readable(std::chrono::duration<double>(1e300)); });
  EXPECT_FALSE(early_h) << "the wait ended before anything was sent";
  EXPECT_EQ(huge.value(), readiness::ready);
  auto [infinite, early_i] = wait_then_send([](auto& s) {
    return s.wait_readable(std::chrono::duration<double>(std::numeric_limits<double>::infinity()));
  });
  EXPECT_FALSE(early_i);
  EXPECT_EQ(infinite.value(), readiness::ready);
  auto lowest = wait_with_nothing_to_read(
      [](auto& s) { return s.wait_readable(std::chrono::duration<double>(-1e300)); });
  EXPECT_EQ(lowest.value(), readiness::timed_out);
  auto writable = wait_with_nothing_to_read(
      [](auto& s) { return s.wait_writable(std::chrono::duration<float>(1e30F)); });
  EXPECT_EQ(writable.value(), readiness::ready) << "writable at once";
}

TEST(TimeoutDurations, ATimeoutTooLongForMicrosecondsIsNoTimeout) {
  // 400,000 years of microseconds overflows int64; as an argument of type microseconds it
  // wrapped to a negative value (EINVAL). Too long to represent means no timeout at all.
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.set_receive_timeout(std::chrono::milliseconds(5)));
  auto set = pair.first.set_receive_timeout(years(400'000));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(pair.first.receive_timeout().value(), microseconds(0)) << "none";
  EXPECT_EQ(pair.first.set_send_timeout(-years(400'000)).error(), std::errc::invalid_argument);
  ASSERT_TRUE(pair.first.set_send_timeout(std::chrono::duration<double>(1e300)));
  EXPECT_EQ(pair.first.send_timeout().value(), microseconds(0));
  ASSERT_TRUE(pair.first.set_send_timeout(std::chrono::duration<double>(0.5)));
  EXPECT_EQ(pair.first.send_timeout().value(), std::chrono::milliseconds(500));  // whole ticks
}

TEST(TimeoutDurations, TheKernelsRoundingUpOfTheLongestTimeoutSaturatesWhenReadBack) {
  // microseconds::max() fits in a timeval; the kernel rounds it up to its clock tick, past
  // what microseconds holds. Reading it back must saturate, not wrap negative.
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.set_send_timeout(microseconds::max()));
  auto back = pair.first.send_timeout();
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back.value(), microseconds::max());
}

}  // namespace
}  // namespace sockpair::testing
