// Helpers for the descriptor-passing tests: pipes, file identity, child processes.
#pragma once

#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tests/support/fds.hpp"

namespace sockpair::testing {

/// The bytes of `text`, without a terminator.
inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

/// The first `size` bytes of `buffer` as text.
inline std::string text_of(std::span<const std::byte> buffer, std::size_t size) {
  return {reinterpret_cast<const char*>(buffer.data()), size};
}

/// errno as text (std::strerror is not thread-safe).
inline std::string errno_text() { return std::error_code(errno, std::system_category()).message(); }

struct pipe_ends {
  unique_fd read;
  unique_fd write;
};

/// A new pipe; `flags` as for pipe2(2). Aborts the test program if the kernel refuses.
inline pipe_ends make_pipe(int flags = O_CLOEXEC) {
  std::array<int, 2> fds = {-1, -1};
  if (::pipe2(fds.data(), flags) != 0) {
    std::abort();
  }
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

/// Reads `fd` until EOF (or an error, which ends the text early).
inline std::string read_to_eof(int fd) {
  std::string text;
  std::array<char, 256> chunk{};
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return text;
    }
    text.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

/// Writes all of `text` to `fd`; false on error.
inline bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Bytes waiting to be read on socket `fd` (the next datagram's size on a message socket).
inline int pending_bytes(int fd) {
  int pending = -1;
  if (::ioctl(fd, FIONREAD, &pending) != 0) {
    return -1;
  }
  return pending;
}

/// True when a non-blocking read of socket `fd` finds nothing at all.
inline bool nothing_to_read(int fd) {
  char byte = 0;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/// Waits for `pid` and returns its exit status, or -1 if it did not exit normally.
inline int exit_status_of(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The user and group `nobody` on Debian.
inline constexpr uid_t nobody_uid = 65534;
inline constexpr gid_t nobody_gid = 65534;

/// For a forked child: when running as root, becomes `nobody` for good (no supplementary
/// groups, real, effective and saved ids all 65534). Otherwise changes nothing. False on
/// failure.
inline bool drop_root_privileges() {
  if (::geteuid() != 0) {
    return true;
  }
  return ::setgroups(0, nullptr) == 0 && ::setresgid(nobody_gid, nobody_gid, nobody_gid) == 0 &&
         ::setresuid(nobody_uid, nobody_uid, nobody_uid) == 0;
}

/// True when a child of this process can run unprivileged: it is not root, or it is root
/// and `drop_root_privileges()` works (it does not in a user namespace that maps only root,
/// such as Bazel's linux-sandbox; hence the tests that need it are tagged no-sandbox).
inline bool children_can_run_unprivileged() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(drop_root_privileges() ? 0 : 1);
  }
  return pid > 0 && exit_status_of(pid) == 0;
}

/// Sends `data` with one SCM_RIGHTS control message per group in `groups`, with raw
/// sendmsg(2) and no help from the library (an independent reference). Returns sendmsg's
/// result; errno is left as the call set it.
inline ssize_t raw_send_rights(int sock, std::string_view data,
                               const std::vector<std::vector<int>>& groups) {
  std::size_t space = 0;
  for (const auto& group : groups) {
    space += CMSG_SPACE(group.size() * sizeof(int));
  }
  std::vector<cmsghdr> storage(space / sizeof(cmsghdr) + 1);  // aligned, zeroed
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = groups.empty() ? nullptr : storage.data();
  msg.msg_controllen = space;
  cmsghdr* c = groups.empty() ? nullptr : CMSG_FIRSTHDR(&msg);
  for (const auto& group : groups) {
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(group.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), group.data(), group.size() * sizeof(int));
    c = CMSG_NXTHDR(&msg, c);
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}

}  // namespace sockpair::testing
