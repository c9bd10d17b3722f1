// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::result<T>`: what every fallible call in this library returns.
//
// It is Boost.Outcome's `std_result<T>`: either a `T` or a `std::error_code`. Errors from the
// kernel arrive unchanged, as errno values in `std::system_category()`, so they compare equal
// to `std::errc` constants:
//
//   auto pair = sockpair::socket_pair<sockpair::stream>::create();
//   if (!pair && pair.error() == std::errc::too_many_files_open) { ... }
//
// Errors the library detects itself (a premature EOF, a truncated message, ...) live in
// <socketpair/error.hpp>. No call throws; `result::value()` on an error is the only way to
// reach an exception (or, under -fno-exceptions, a termination).
#pragma once

#include <socketpair/detail/config.hpp>

#if !defined(__cpp_exceptions) && !defined(BOOST_OUTCOME_THROW_EXCEPTION)
// Built with -fno-exceptions: Boost would make every program define boost::throw_exception.
// Instead, `value()` on an error (the one misuse Outcome would throw for) prints what went
// wrong and aborts. Define BOOST_OUTCOME_THROW_EXCEPTION before this header to choose else.
#include <cstdio>
#include <cstdlib>

namespace sockpair::detail {
[[noreturn]] inline void abort_on_bad_result_access(const char* what) noexcept {
  std::fprintf(stderr, "sockpair: fatal: %s (value() of a failed result?)\n", what);
  std::abort();
}
}  // namespace sockpair::detail

#define BOOST_OUTCOME_THROW_EXCEPTION(expr) ::sockpair::detail::abort_on_bad_result_access(#expr)
#endif

#include <boost/outcome/std_result.hpp>
#include <boost/outcome/try.hpp>

#include <cerrno>
#include <system_error>

namespace sockpair {

namespace outcome = boost::outcome_v2;

/// Either a `T` or a `std::error_code`. `[[nodiscard]]`: an ignored result is a lost error.
template <class T>
using result = outcome::std_result<T>;

/// The success value of `result<void>`: `return sockpair::success();`.
using outcome::success;

/// `errno` as a `std::error_code` in `std::system_category()`.
[[nodiscard]] inline std::error_code errno_code(int err) noexcept {
  return {err, std::system_category()};
}

/// The calling thread's current `errno` as a `std::error_code`.
[[nodiscard]] inline std::error_code last_errno_code() noexcept { return errno_code(errno); }

}  // namespace sockpair
