// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The raw path: send(2)/recv(2) on a socketpair(2), with the EINTR retries and short-count
// loops a careful hand-written program has. See driver.hpp.
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "benchmarks/instructions/driver.hpp"

BENCH_MEASURED bool measured_send_some(int& socket, const std::byte* data, std::size_t size) {
  ssize_t n = -1;
  do {
    n = ::send(socket, data, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size);
}

BENCH_MEASURED bool measured_receive_some(int& socket, std::byte* data, std::size_t size) {
  ssize_t n = -1;
  do {
    n = ::recv(socket, data, size, 0);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size);
}

BENCH_MEASURED bool measured_send_all(int& socket, const std::byte* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::send(socket, data + done, size - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

BENCH_MEASURED bool measured_receive_exact(int& socket, std::byte* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::recv(socket, data + done, size - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      return false;  // EOF before `size` bytes
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

BENCH_MEASURED bool measured_pass_fds(int& sender, int& receiver, int fd, std::size_t count) {
  constexpr std::size_t space = CMSG_SPACE(sizeof(int) * bench::instructions::max_fds);
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
    std::memcpy(CMSG_DATA(header) + i * sizeof(int), &fd, sizeof fd);
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
  return n == 1 && (received.msg_flags & MSG_CTRUNC) == 0 && received_byte == 'x' &&
         arrived == count;
}

int main(int argc, char** argv) {
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    return 1;
  }
  const bench::instructions::path<int> calls{"raw",
                                             measured_send_some,
                                             measured_receive_some,
                                             measured_send_all,
                                             measured_receive_exact,
                                             measured_pass_fds};
  const int status = bench::instructions::drive(argc, argv, calls, fds[0], fds[1]);
  ::close(fds[0]);
  ::close(fds[1]);
  return status;
}
