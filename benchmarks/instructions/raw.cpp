// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The raw path: send(2)/recv(2) on a socketpair(2), with the EINTR retries and short-count
// loops a careful hand-written program has. See driver.hpp.
//
// Built a second time with BENCH_RAW_CHECKED (instructions_raw_checked): the same loops held
// to the library's contract, each receive a recvmsg(2) with room for the control data the
// kernel may add unasked and a check for descriptors that came with the bytes (closed, and
// the receive failed), as a careful program that must not lose descriptors silently needs.
// recv(2) drops them without a word.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
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

#if defined(BENCH_RAW_CHECKED)
namespace {
// Off the hot path, as the library keeps it: the loop inlined here costs 8 instructions a call.
[[gnu::noinline, gnu::cold]] void discard_received_fds(msghdr& m) {
  static_cast<void>(bench::close_received_fds(m));
}

// One receive that does not lose descriptors silently: `lost` when some came (closed).
inline ssize_t receive_one(int socket, std::byte* data, std::size_t size, bool& lost) {
  // The library's room for unsolicited control data; the kernel writes it, so no zeroing.
  alignas(cmsghdr) std::array<std::byte, 424> control;  // NOLINT(*-member-init)
  iovec iov{data, size};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  const ssize_t n = ::recvmsg(socket, &m, MSG_CMSG_CLOEXEC);
  if (n >= 0 && (m.msg_controllen != 0 || (m.msg_flags & MSG_CTRUNC) != 0)) [[unlikely]] {
    discard_received_fds(m);
    lost = true;
  }
  return n;
}
}  // namespace
constexpr const char* path_name = "raw_checked";
#else
namespace {
inline ssize_t receive_one(int socket, std::byte* data, std::size_t size, bool& /*lost*/) {
  return ::recv(socket, data, size, 0);
}
}  // namespace
constexpr const char* path_name = "raw";
#endif

BENCH_MEASURED bool measured_receive_some(int& socket, std::byte* data, std::size_t size) {
  ssize_t n = -1;
  bool lost = false;
  do {
    n = receive_one(socket, data, size, lost);
  } while (n < 0 && errno == EINTR);
  return !lost && n == static_cast<ssize_t>(size);
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
    bool lost = false;
    const ssize_t n = receive_one(socket, data + done, size - done, lost);
    if (lost) {
      return false;
    }
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

BENCH_MEASURED bool measured_pass_fds(int& sender, int& receiver, std::span<const int> fds) {
  return bench::raw_pass_fds(sender, receiver, fds);
}

int main(int argc, char** argv) {
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    return 1;
  }
  const bench::instructions::path<int> calls{
      path_name,         measured_send_some,     measured_receive_some,
      measured_send_all, measured_receive_exact, measured_pass_fds};
  const int status = bench::instructions::drive(argc, argv, calls, fds[0], fds[1]);
  ::close(fds[0]);
  ::close(fds[1]);
  return status;
}
