// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::unique_fd`: sole ownership of one file descriptor.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/sys.hpp>
#include <socketpair/result.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace sockpair {

/// Owns one file descriptor and closes it exactly once.
///
/// Move-only: a moved-from `unique_fd` is empty (`get() == -1`) and closes nothing. The
/// destructor closes the descriptor and ignores errors; call `close()` first where an error
/// from close(2) (EIO on a network filesystem, say) matters.
class unique_fd {
 public:
  /// An empty owner.
  constexpr unique_fd() noexcept = default;

  /// Takes ownership of `fd` (which may be -1 for empty).
  constexpr explicit unique_fd(int fd) noexcept : fd_(fd) {}

  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  constexpr unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}

  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }

  ~unique_fd() { reset(); }

  /// The descriptor, still owned; -1 when empty.
  [[nodiscard]] constexpr int get() const noexcept { return fd_; }

  /// True when a descriptor is owned.
  constexpr explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Gives up ownership without closing: the caller now owns the returned descriptor.
  [[nodiscard]] constexpr int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

  /// A second owner for the same open file (F_DUPFD_CLOEXEC): a new descriptor, close-on-exec
  /// whatever this one's flags, sharing the file offset and status flags (O_NONBLOCK) with
  /// this one. Closing either leaves the other open. Errors: EBADF for an empty owner,
  /// EMFILE when the process has no free descriptor number (RLIMIT_NOFILE).
  [[nodiscard]] result<unique_fd> try_clone() const noexcept {
    const int copy = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      return last_errno_code();
    }
    return unique_fd(copy);
  }

  /// Closes the owned descriptor (ignoring errors) and takes ownership of `fd`.
  /// Resetting to the descriptor already owned keeps it open.
  void reset(int fd = -1) noexcept {
    // A received descriptor comes from a control buffer that recvmsg(2) filled, a write the
    // analyzer cannot see.
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    if (fd == fd_) {
      return;
    }
    if (fd_ >= 0) {
      // Linux releases the descriptor even when close(2) fails, EINTR included, so a
      // retry could close a descriptor another thread has just been given.
      static_cast<void>(detail::sys::close(fd_));
    }
    fd_ = fd;
  }

  /// Closes the owned descriptor and reports close(2)'s error. Afterwards the owner is empty
  /// whatever the outcome: the descriptor is never closed twice. Closing an empty owner
  /// succeeds and does nothing.
  [[nodiscard]] result<void> close() noexcept {
    const int fd = release();
    const int rc = fd < 0 ? 0 : detail::sys::close(fd);
    if (rc == 0) {
      return success();
    }
    return errno_code(-rc);
  }

  friend constexpr void swap(unique_fd& a, unique_fd& b) noexcept {
    const int fd = a.fd_;
    a.fd_ = b.fd_;
    b.fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sockpair
