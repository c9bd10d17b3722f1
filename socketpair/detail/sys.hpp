// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The system calls on the library's hot paths: send(2), recv(2), sendmsg(2), recvmsg(2) and
// close(2), made directly on x86-64 Linux and through libc elsewhere. Each returns what the
// kernel does: a count (or 0), or -errno. Nothing here is part of the public interface.
//
// Why not libc's wrappers: each is a pthread cancellation point, so each first asks whether
// the process has more than one thread and, if so, turns asynchronous cancellation on and
// off around the call. That costs 7 to 13 instructions a call with one thread and a few
// dozen with several: more than the library's own checks on a 64-byte message
// (benchmarks/README.md, "Where the instructions go"). What is lost is the cancellation
// point, and nothing of value: a thread cancelled inside one of the library's calls would
// unwind through its `noexcept` frames, which is std::terminate. With these calls, a
// deferred cancellation acts at the thread's next cancellation point instead.
//
// Under a sanitizer every call goes through libc: AddressSanitizer and MemorySanitizer check
// through libc's wrappers what the kernel reads and writes, and ThreadSanitizer learns there
// which descriptors carry happens-before between threads.
#pragma once

#include <socketpair/detail/config.hpp>

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SOCKPAIR_DETAIL_SANITIZED
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOCKPAIR_DETAIL_SANITIZED
#endif

namespace sockpair::detail::sys {

// Every call returns what the kernel returns: a count (or 0), or -errno. `as_libc` turns that
// into libc's -1 with errno set; callers test `rc < 0` on the hot path and convert only there.

/// libc's convention from the kernel's: -1 with errno set, or the count.
[[gnu::always_inline]] inline long as_libc(long rc) noexcept {
  if (rc < 0) [[unlikely]] {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return rc;
}

#if defined(__linux__) && defined(__x86_64__) && !defined(SOCKPAIR_DETAIL_SANITIZED)
/// Whether the calls below bypass libc (see above); tests read it.
inline constexpr bool direct = true;

// The x86-64 system call convention: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;
// the kernel clobbers rcx and r11 and returns -4095..-1 for -errno. "memory": the kernel reads
// and writes through the pointers passed.
[[gnu::always_inline]] inline long call3(long number, long a, long b, long c) noexcept {
  long rc = number;
  asm volatile("syscall" : "+a"(rc) : "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return rc;
}

[[gnu::always_inline]] inline long call6(long number, long a, long b, long c, long d, long e,
                                         long f) noexcept {
  long rc = number;
  register long r10 asm("r10") = d;  // NOLINT(*-register): the convention's fourth register
  register long r8 asm("r8") = e;    // NOLINT(*-register)
  register long r9 asm("r9") = f;    // NOLINT(*-register)
  asm volatile("syscall"
               : "+a"(rc)
               : "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return rc;
}

// NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): pointers as register values
[[nodiscard, gnu::always_inline]] inline long send(int fd, const void* data, std::size_t size,
                                                   int flags) noexcept {
  return call6(SYS_sendto, fd, reinterpret_cast<long>(data), static_cast<long>(size), flags, 0, 0);
}

[[nodiscard, gnu::always_inline]] inline long recv(int fd, void* data, std::size_t size,
                                                   int flags) noexcept {
  return call6(SYS_recvfrom, fd, reinterpret_cast<long>(data), static_cast<long>(size), flags, 0,
               0);
}

[[nodiscard, gnu::always_inline]] inline long sendmsg(int fd, const msghdr* msg,
                                                      int flags) noexcept {
  return call3(SYS_sendmsg, fd, reinterpret_cast<long>(msg), flags);
}

[[nodiscard, gnu::always_inline]] inline long recvmsg(int fd, msghdr* msg, int flags) noexcept {
  return call3(SYS_recvmsg, fd, reinterpret_cast<long>(msg), flags);
}
// NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)

/// close(2). On Linux the descriptor is gone whatever it returns, EINTR included.
[[gnu::always_inline]] inline int close(int fd) noexcept {
  return static_cast<int>(call3(SYS_close, fd, 0, 0));
}
#else
inline constexpr bool direct = false;

/// The kernel's convention from libc's.
[[gnu::always_inline]] inline long from_libc(long rc) noexcept { return rc < 0 ? -errno : rc; }

[[nodiscard]] inline long send(int fd, const void* data, std::size_t size, int flags) noexcept {
  return from_libc(::send(fd, data, size, flags));
}
[[nodiscard]] inline long recv(int fd, void* data, std::size_t size, int flags) noexcept {
  return from_libc(::recv(fd, data, size, flags));
}
[[nodiscard]] inline long sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return from_libc(::sendmsg(fd, msg, flags));
}
[[nodiscard]] inline long recvmsg(int fd, msghdr* msg, int flags) noexcept {
  return from_libc(::recvmsg(fd, msg, flags));
}
inline int close(int fd) noexcept { return static_cast<int>(from_libc(::close(fd))); }
#endif

}  // namespace sockpair::detail::sys
