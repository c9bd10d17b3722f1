// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The raw contender for descriptor passing, shared by the timed suite (fd_passing_bench.cpp)
// and the instruction count (instructions/raw.cpp): what a careful hand-written program does
// with sendmsg(2)/recvmsg(2) and a hand-built cmsghdr.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>

namespace bench {

/// The most descriptors one raw message carries here.
inline constexpr std::size_t raw_max_fds = 16;

/// Closes every descriptor an SCM_RIGHTS message of `received` carried; returns how many.
[[gnu::always_inline]] inline std::size_t close_received_fds(msghdr& received) {
  std::size_t arrived = 0;
  for (cmsghdr* h = CMSG_FIRSTHDR(&received); h != nullptr; h = CMSG_NXTHDR(&received, h)) {
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      const std::size_t fds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < fds; ++i) {
        int received_fd = -1;
        std::memcpy(&received_fd, CMSG_DATA(h) + i * sizeof(int), sizeof received_fd);
        ::close(received_fd);
      }
      arrived += fds;
    }
  }
  return arrived;
}

/// Sends one 1-byte message carrying `fds` (at most raw_max_fds) from `sender`, receives it
/// on `receiver` (close-on-exec on arrival) and closes what arrived; EINTR is retried. True
/// when the byte and exactly `fds.size()` descriptors arrived, nothing cut off. Always
/// inlined, so that a measured caller counts exactly this code and no call.
[[gnu::always_inline]] inline bool raw_pass_fds(int sender, int receiver,
                                                std::span<const int> fds) {
  const std::size_t count = fds.size();
  constexpr std::size_t space = CMSG_SPACE(sizeof(int) * raw_max_fds);
  alignas(cmsghdr) std::array<char, space> control{};
  char byte = 'x';
  iovec iov{&byte, 1};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * count);
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(CMSG_DATA(header) + i * sizeof(int), &fds[i], sizeof(int));
  }
  ssize_t n = -1;
  do {
    n = ::sendmsg(sender, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    return false;
  }

  alignas(cmsghdr) std::array<char, space> received_control{};
  char received_byte = 0;
  iovec received_iov{&received_byte, 1};
  msghdr received{};
  received.msg_iov = &received_iov;
  received.msg_iovlen = 1;
  received.msg_control = received_control.data();
  received.msg_controllen = received_control.size();
  do {
    n = ::recvmsg(receiver, &received, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  const std::size_t arrived = close_received_fds(received);
  return n == 1 && (received.msg_flags & MSG_CTRUNC) == 0 && received_byte == 'x' &&
         arrived == count;
}

}  // namespace bench
