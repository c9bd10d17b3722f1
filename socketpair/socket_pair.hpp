// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::socket_pair<Type, Domain>`: a connected pair of sockets from socketpair(2).
//
//   auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
//   if (!pair) return pair.error();              // errno from socketpair(2), unchanged
//   auto [parent, child] = std::move(pair).value();
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/detail/sigpipe.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <array>

namespace sockpair {

/// How `socket_pair::create()` sets up both ends.
struct pair_options {
  /// O_NONBLOCK on both ends: calls that would block fail with EAGAIN/EWOULDBLOCK.
  bool nonblocking = false;
  /// FD_CLOEXEC on both ends. On by default: a descriptor that leaks into an exec'd program
  /// is a security bug. Clear it for the one end a child must inherit.
  bool close_on_exec = true;
  /// The protocol argument of socketpair(2). AF_UNIX accepts 0 (and, on Linux, PF_UNIX);
  /// anything else fails with EPROTONOSUPPORT.
  int protocol = 0;
};

/// Two connected sockets of the same type and domain. Destructure it to use the ends:
/// `auto [a, b] = std::move(pair)`; each end then owns its descriptor.
template <socket_type Type, socket_domain Domain = unix_domain>
requires pairable<Domain, Type>
class socket_pair {
 public:
  using end_type = socket<Type, Domain>;

  end_type first;
  end_type second;

  /// Creates a connected pair with socketpair(2).
  ///
  /// Errors are socketpair(2)'s errno values, unchanged: EMFILE, ENFILE, EAFNOSUPPORT (e.g.
  /// AF_TIPC without the tipc module), EPROTONOSUPPORT (a protocol the domain lacks),
  /// EOPNOTSUPP, EFAULT, and on illumos ENOMEM, ENOSR and EACCES. On failure no descriptor
  /// is left open. Where the platform lacks SOCK_CLOEXEC/SOCK_NONBLOCK the flags are set
  /// with fcntl(2) afterwards (not atomic with respect to a concurrent fork+exec).
  [[nodiscard]] static result<socket_pair> create(pair_options options = {}) noexcept {
    int type = Type::value;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    if (options.close_on_exec) {
      type |= SOCK_CLOEXEC;
    }
    if (options.nonblocking) {
      type |= SOCK_NONBLOCK;
    }
#endif
    std::array<int, 2> fds = {-1, -1};
    if (::socketpair(Domain::value, type, options.protocol, fds.data()) != 0) {
      return last_errno_code();
    }
    socket_pair pair{end_type(unique_fd(fds[0])), end_type(unique_fd(fds[1]))};
    for (const int fd : fds) {  // SO_NOSIGPIPE where MSG_NOSIGNAL is missing; else nothing
      if (auto quiet = detail::suppress_sigpipe(fd); !quiet) {
        return quiet.assume_error();  // `pair` closes both ends
      }
    }
#if !(defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK))
    for (const int fd : fds) {
      if (options.close_on_exec && ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        return last_errno_code();  // `pair` closes both ends
      }
      if (options.nonblocking && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        return last_errno_code();
      }
    }
#endif
    return pair;
  }
};

}  // namespace sockpair
