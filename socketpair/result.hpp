// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::result<T>`: what every fallible call in this library returns.
//
// It is Boost.Outcome's `basic_result<T, std::error_code, ...>` (the shape of `std_result<T>`):
// either a `T` or a `std::error_code`. Errors from the kernel arrive unchanged, as errno values
// in `std::system_category()`, so they compare equal to `std::errc` constants:
//
//   auto pair = sockpair::socket_pair<sockpair::stream>::create();
//   if (!pair && pair.error() == std::errc::too_many_files_open) { ... }
//
// Errors the library detects itself (a premature EOF, a truncated message, ...) live in
// <socketpair/error.hpp>. No call throws. `value()` on a failed result (or `error()` on a
// successful one) is the only misuse left, and the library's own no-value policy decides what
// it does, the same in every translation unit whatever else is included first:
// - with exceptions: `value()` throws `std::system_error` holding the error (as `std_result`
//   does), `error()` throws `outcome::bad_result_access`;
// - with -fno-exceptions: prints `sockpair: fatal: ...` with the error's message to stderr and
//   calls `std::abort()`.
// No Boost configuration macro is defined or read here.
#pragma once

#include <socketpair/detail/config.hpp>

#include <boost/outcome/bad_access.hpp>
#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/detail/trait_std_error_code.hpp>
#include <boost/outcome/try.hpp>

#include <cerrno>
#include <system_error>
#include <utility>

#if !defined(__cpp_exceptions)
#include <cstdio>
#include <cstdlib>
#endif

namespace sockpair {

namespace outcome = boost::outcome_v2;

namespace detail {

#if !defined(__cpp_exceptions)
/// Without exceptions: says what was misused, with the error if there is one, and aborts.
[[noreturn]] inline void fatal_result_access(const char* what, const std::error_code* ec) noexcept {
  if (ec != nullptr) {
    std::fprintf(stderr, "sockpair: fatal: %s: %s: %s (%d)\n", what, ec->category().name(),
                 ec->message().c_str(), ec->value());
  } else {
    std::fprintf(stderr, "sockpair: fatal: %s\n", what);
  }
  std::abort();
}
#endif

/// The no-value policy of `sockpair::result`: what `value()`/`error()` do when there is none.
struct result_policy : outcome::policy::base {
  template <class Impl>
  static constexpr void wide_value_check(Impl&& self) {
    if (!base::_has_value(self)) {
#if defined(__cpp_exceptions)
      if (base::_has_error(self)) {
        throw std::system_error(base::_error(std::forward<Impl>(self)));
      }
      throw outcome::bad_result_access("no value");
#else
      if (base::_has_error(self)) {
        const std::error_code& ec = base::_error(self);
        fatal_result_access("value() of a failed result", &ec);
      }
      fatal_result_access("value() of a result with neither value nor error", nullptr);
#endif
    }
  }

  template <class Impl>
  static constexpr void wide_error_check(Impl&& self) {
    if (!base::_has_error(self)) {
#if defined(__cpp_exceptions)
      throw outcome::bad_result_access("no error");
#else
      fatal_result_access("error() of a successful result", nullptr);
#endif
    }
  }
};

}  // namespace detail

/// Either a `T` or a `std::error_code`. `[[nodiscard]]`: an ignored result is a lost error.
template <class T>
using result = outcome::basic_result<T, std::error_code, detail::result_policy>;

/// The success value of `result<void>`: `return sockpair::success();`.
using outcome::success;

/// `errno` as a `std::error_code` in `std::system_category()`: how the library builds every
/// errno-valued error, the kernel's and its own alike (EINVAL for a bad argument, ENOMEM,
/// ...), so that one errno is one `std::error_code` and `==` between two of them holds.
/// Never `make_error_code(std::errc::...)`, which is generic_category and compares unequal
/// (tests/error_category_scan_test.sh keeps the headers to this).
[[nodiscard]] inline std::error_code errno_code(int err) noexcept {
  return {err, std::system_category()};
}

/// The calling thread's current `errno` as a `std::error_code`.
[[nodiscard]] inline std::error_code last_errno_code() noexcept { return errno_code(errno); }

}  // namespace sockpair
