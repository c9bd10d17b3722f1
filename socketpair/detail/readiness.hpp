// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// poll(2) on one descriptor with a std::chrono timeout. Not part of the public interface.
#pragma once

#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/deadline.hpp>
#include <socketpair/result.hpp>

#include <poll.h>

#include <cerrno>

namespace sockpair::detail {

/// Waits until `fd` reports one of `events` (or an error or hangup, which the next I/O call
/// will report): true. False once `until` has passed without that (`no_deadline`: never). A
/// signal does not cut the wait short: poll(2) is restarted with the time that is left.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<bool> wait_until(int fd, short events, deadline_time until) noexcept {
  if (fd < 0) {
    return errno_code(EBADF);  // poll(2) would skip it and just sleep
  }
  for (;;) {
    const deadline_time now = deadline_clock::now();
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, milliseconds_left(until, now));
    if (rc > 0) {
      if ((p.revents & POLLNVAL) != 0) {
        return errno_code(EBADF);
      }
      return true;
    }
    if (rc == 0) {
      if (until != no_deadline && deadline_clock::now() >= until) {
        return false;
      }
      continue;  // woke before the deadline (a clamped wait): wait for the rest
    }
    if (errno != EINTR) {
      return last_errno_code();
    }
  }
}

/// `wait_until` the deadline `timeout` from now, any std::chrono duration type: negative is
/// zero (a check that does not wait), and a timeout past the clock's range is none at all.
/// (A template, like everything in these headers, so that it costs nothing until used: see
/// detail/io.hpp.)
template <class Rep, class Period>
[[nodiscard]] result<bool> wait_for(int fd, short events,
                                    std::chrono::duration<Rep, Period> timeout) noexcept {
  return wait_until(fd, events, deadline_after(timeout));
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
