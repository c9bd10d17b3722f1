// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Plumbing shared by the public headers: EINTR retry and errno-to-result conversion.
// Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/result.hpp>

#include <cerrno>
#include <concepts>

namespace sockpair::detail {

/// Calls `f()` until it returns anything but -1 with errno EINTR. For blocking calls only:
/// a call that must report EINTR to its caller does not go through here.
template <std::invocable F>
[[nodiscard]] auto retry_on_eintr(F&& f) noexcept(noexcept(f())) {
  for (;;) {
    auto rc = f();
    if (!(rc == -1 && errno == EINTR)) {
      return rc;
    }
  }
}

/// A syscall's "-1 and errno" convention as a `result<void>`.
[[nodiscard]] inline result<void> check(int rc) noexcept {
  if (rc == -1) {
    return last_errno_code();
  }
  return success();
}

}  // namespace sockpair::detail
