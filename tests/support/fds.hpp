// Test support: what the kernel says about this process's descriptors.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <system_error>

namespace sockpair::testing {

/// The descriptors open in this process, from /proc/self/fd (without the one used to list).
inline std::set<int> open_fds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    std::abort();  // no /proc: these tests cannot say anything
  }
  const int own = ::dirfd(dir);
  // readdir is safe on a DIR that no other thread uses (readdir_r is deprecated).
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR is private to the call
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    int fd = -1;
    if (std::from_chars(name, name + std::strlen(name), fd).ec != std::errc{}) {
      continue;  // "." and ".."
    }
    if (fd != own) {
      fds.insert(fd);
    }
  }
  ::closedir(dir);
  return fds;
}

/// True when `fd` is an open descriptor in this process.
inline bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

/// True when FD_CLOEXEC is set on `fd`.
inline bool has_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

/// True when O_NONBLOCK is set on `fd`.
inline bool is_nonblocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

/// True when `a` and `b` are descriptors for the same file (device and inode).
inline bool same_file(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace sockpair::testing
