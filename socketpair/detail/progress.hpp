// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Driving a transfer (socketpair/transfer.hpp) to its end, one system call at a time: with no
// deadline, blocking calls in a loop; against a deadline, non-blocking calls (MSG_DONTWAIT)
// with poll(2) waiting in between for what is left of the time. Either way `done` counts every
// byte that moved, whatever stops the loop.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/deadline.hpp>
#include <socketpair/detail/readiness.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <system_error>

namespace sockpair::detail {

/// The error of a call whose deadline passed before it could finish.
[[nodiscard, gnu::cold, gnu::noinline]] inline std::error_code deadline_passed_error() noexcept {
  return errno_code(ETIMEDOUT);
}

/// Calls `one(done, 0)` (one blocking system call moving bytes from `done` on, returning a
/// count) until `total` bytes have moved, advancing `done`. A 0 count is `at_zero` (a premature
/// EOF when receiving, EIO when sending).
template <class One>
[[nodiscard]] result<std::size_t> transfer_all(std::size_t total, std::size_t& done,
                                               std::error_code at_zero, One one) noexcept {
  while (done < total) {
    auto moved = one(done, 0);
    if (!moved) {
      return moved.assume_error();
    }
    if (moved.assume_value() == 0) {
      return at_zero;
    }
    done += moved.assume_value();
  }
  return done;
}

/// Calls `one(MSG_DONTWAIT)` (one non-blocking system call) until it does not fail with
/// would-block, waiting in poll(2) for `events` on `fd` in between, until `until`; then fails
/// with `deadline_passed_error()` (ETIMEDOUT). A deadline already passed still makes one
/// attempt. Signals neither end the wait early nor extend it. The socket's own
/// SO_SNDTIMEO/SO_RCVTIMEO play no part, since the calls never block.
template <class One>
[[nodiscard, gnu::noinline]] result<std::size_t> once_until(int fd, short events,
                                                            deadline_time until, One one) noexcept {
  for (;;) {
    auto moved = one(MSG_DONTWAIT);
    if (moved || !(moved.assume_error() == std::errc::operation_would_block)) {
      return moved;
    }
    auto ready = wait_until(fd, events, until);
    if (!ready) {
      return ready.assume_error();
    }
    if (!ready.assume_value()) {
      return deadline_passed_error();
    }
  }
}

/// As `transfer_all`, each call made by `once_until`: the transfer stops with ETIMEDOUT when
/// `until` passes, `done` counting what moved before.
template <class One>
[[nodiscard, gnu::noinline]] result<std::size_t> transfer_until(
    int fd, short events, deadline_time until, std::size_t total, std::size_t& done,
    std::error_code at_zero, One one) noexcept {
  return transfer_all(total, done, at_zero, [&](std::size_t skip, int /*blocking*/) {
    return once_until(fd, events, until, [&](int flags) { return one(skip, flags); });
  });
}

}  // namespace sockpair::detail
