// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// poll(2) on one descriptor with a std::chrono timeout. Not part of the public interface.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/result.hpp>

#include <poll.h>

#include <cerrno>
#include <climits>

namespace sockpair::detail {

/// Waits until `fd` reports one of `events` (or an error or hangup, which the next I/O call
/// will report): true. False once `timeout` has passed without that. A signal does not cut the
/// wait short: poll(2) is restarted with the time that is left. A negative timeout is zero
/// (a check that does not wait).
/// (A template, like everything in these headers, so that it costs nothing until used: see
/// detail/io.hpp.)
template <class Rep, class Period>
[[nodiscard]] result<bool> wait_for(int fd, short events,
                                    std::chrono::duration<Rep, Period> timeout) noexcept {
  if (fd < 0) {
    return errno_code(EBADF);  // poll(2) would skip it and just sleep
  }
  using clock = std::chrono::steady_clock;
  const clock::time_point start = clock::now();
  if (timeout < timeout.zero()) {
    timeout = timeout.zero();
  }
  // A timeout past the clock's range is no timeout at all.
  const bool finite = timeout < clock::time_point::max() - start;
  const clock::time_point deadline =
      finite ? start + std::chrono::ceil<clock::duration>(timeout) : clock::time_point::max();
  for (;;) {
    int milliseconds = -1;
    if (finite) {
      const auto left = deadline - clock::now();
      // poll(2) counts whole milliseconds: round up, so the wait is never cut short.
      const auto rounded = std::chrono::ceil<std::chrono::milliseconds>(
          left < clock::duration::zero() ? clock::duration::zero() : left);
      milliseconds = rounded.count() > INT_MAX ? INT_MAX : static_cast<int>(rounded.count());
    }
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, milliseconds);
    if (rc > 0) {
      if ((p.revents & POLLNVAL) != 0) {
        return errno_code(EBADF);
      }
      return true;
    }
    if (rc == 0) {
      if (finite && clock::now() >= deadline) {
        return false;
      }
      continue;  // woke before the deadline (a clamped wait): wait for the rest
    }
    if (errno != EINTR) {
      return last_errno_code();
    }
  }
}

/// As above, with no timeout.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<bool> wait_for(int fd, short events) noexcept {
  if (fd < 0) {
    return errno_code(EBADF);
  }
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, -1);
    if (rc > 0) {
      return (p.revents & POLLNVAL) != 0 ? result<bool>(errno_code(EBADF)) : result<bool>(true);
    }
    if (rc < 0 && errno != EINTR) {
      return last_errno_code();
    }
  }
}

}  // namespace sockpair::detail
