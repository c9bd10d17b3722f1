// sockpair::result<T> with exceptions on: what it converts from, what a failed access throws
// (the contract of result.hpp), success() and BOOST_OUTCOME_TRY.
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <type_traits>

namespace {

using sockpair::result;

static_assert(std::is_convertible_v<std::error_code, result<int>>);
static_assert(std::is_convertible_v<sockpair::errc, result<int>>);
static_assert(std::is_convertible_v<int, result<int>>);
static_assert(std::is_convertible_v<decltype(sockpair::success()), result<void>>);

result<int> fails_with(std::error_code ec) { return ec; }
result<int> fails_with_sockpair_errc() { return sockpair::errc::unexpected_eof; }
result<int> forty_two() { return 42; }
result<void> nothing() { return sockpair::success(); }

result<int> plus_one(result<int> (*f)()) {
  BOOST_OUTCOME_TRY(auto v, f());
  return v + 1;
}

result<void> void_try(result<void> (*f)()) {
  BOOST_OUTCOME_TRY(f());
  return sockpair::success();
}

result<void> fails_void() { return sockpair::errno_code(EPIPE); }

TEST(Result, HoldsAValue) {
  const result<int> r = forty_two();
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(r.assume_value(), 42);
}

TEST(Result, ConvertsFromAnErrorCode) {
  const result<int> r = fails_with(sockpair::errno_code(ECONNRESET));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_reset);
  EXPECT_EQ(&r.error().category(), &std::system_category());
}

TEST(Result, ConvertsFromSockpairErrc) {
  const result<int> r = fails_with_sockpair_errc();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), sockpair::errc::unexpected_eof);
  EXPECT_EQ(&r.error().category(), &sockpair::error_category());
}

TEST(Result, SuccessMakesAVoidResult) { EXPECT_TRUE(nothing()); }

TEST(Result, TryPropagatesTheErrorAndBindsTheValue) {
  const result<int> ok = plus_one(forty_two);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), 43);
  const result<int> bad = plus_one(fails_with_sockpair_errc);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), sockpair::errc::unexpected_eof);
  EXPECT_TRUE(void_try(nothing));
  const result<void> bad_void = void_try(fails_void);
  ASSERT_FALSE(bad_void);
  EXPECT_EQ(bad_void.error(), std::errc::broken_pipe);
}

TEST(Result, ValueOfAFailedResultThrowsSystemErrorWithTheCode) {
  const result<int> r = fails_with(sockpair::errno_code(ECONNRESET));
  try {
    static_cast<void>(r.value());
    ADD_FAILURE() << "value() returned";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_reset);
  }
  result<int> moved = fails_with_sockpair_errc();
  try {
    // NOLINTNEXTLINE(performance-move-const-arg): the rvalue overload of value() is under test
    static_cast<void>(std::move(moved).value());
    ADD_FAILURE() << "value() returned";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), sockpair::errc::unexpected_eof);
  }
}

TEST(Result, ValueOfAFailedVoidResultThrowsToo) {
  const result<void> r = fails_void();
  EXPECT_THROW(r.value(), std::system_error);
}

TEST(Result, ErrorOfASuccessfulResultThrowsBadResultAccess) {
  const result<int> r = forty_two();
  EXPECT_THROW(static_cast<void>(r.error()), sockpair::outcome::bad_result_access);
}

}  // namespace
