// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Plumbing shared by the public headers: EINTR retry and errno-to-result conversion.
// Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <cerrno>
#include <concepts>

namespace sockpair::detail {

/// Calls `f()` until it returns anything but a negative value with errno EINTR. For
/// blocking calls only: a call that must report EINTR to its caller does not go through here.
///
/// `inline` matters: a function template without it gets only GCC's small automatic-inlining
/// budget, and a call that stays a call costs ~25 instructions per syscall (benchmarks/
/// README.md, "Where the instructions go"). `rc < 0` lets the compiler merge this test with
/// the caller's own.
template <std::invocable F>
[[nodiscard]] inline auto retry_on_eintr(F&& f) noexcept(noexcept(f())) {
  for (;;) {
    auto rc = f();
    if (!(rc < 0 && errno == EINTR)) {
      return rc;
    }
  }
}

/// Built out of line: constructing an error touches its category's function-local static,
/// which would otherwise sit in (and bloat) every hot loop that can fail this way.
[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code unexpected_eof_error() noexcept {
  return make_error_code(errc::unexpected_eof);
}

[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code invalid_argument_error() noexcept {
  return make_error_code(std::errc::invalid_argument);
}

/// A syscall's "-1 and errno" convention as a `result<void>`.
[[nodiscard]] inline result<void> check(int rc) noexcept {
  if (rc == -1) {
    return last_errno_code();
  }
  return success();
}

}  // namespace sockpair::detail
