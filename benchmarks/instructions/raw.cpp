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
#include "benchmarks/raw_fd_passing.hpp"

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

static_assert(bench::instructions::max_fds <= bench::raw_max_fds);

BENCH_MEASURED bool measured_pass_fds(int& sender, int& receiver, int fd, std::size_t count) {
  return bench::raw_pass_fds(sender, receiver, fd, count);
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
