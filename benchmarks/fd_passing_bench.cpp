// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Descriptor passing on one thread: send one 1-byte message carrying `param` descriptors
// (SCM_RIGHTS) on one end of a stream pair, receive it on the other (close-on-exec set on
// arrival), check the count, close what arrived. One iteration is one send + receive.
//
//   fd_passing/raw_socketpair/<count>   sendmsg(2)/recvmsg(2) with a hand-built cmsghdr
//   fd_passing/sockpair/<count>         send_with_fds / receive_with_fds<16> (descriptors
//                                       arrive owned by unique_fds, closed when dropped)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t max_descriptors = 16;

void fd_passing_raw(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    fail("socketpair");
  }
  const fd sender(fds[0]);
  const fd receiver(fds[1]);
  const fd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (passed.get() < 0) {
    fail("open(/dev/null)");
  }

  for (auto _ : state) {
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * max_descriptors)> control{};
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
      const int value = passed.get();
      std::memcpy(CMSG_DATA(header) + i * sizeof(int), &value, sizeof value);
    }
    if (::sendmsg(sender.get(), &message, MSG_NOSIGNAL) != 1) {
      fail("sendmsg(SCM_RIGHTS)");
    }

    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * max_descriptors)> received_control{};
    char received_byte = 0;
    iovec received_iov{&received_byte, 1};
    msghdr received{};
    received.msg_iov = &received_iov;
    received.msg_iovlen = 1;
    received.msg_control = received_control.data();
    received.msg_controllen = received_control.size();
    if (::recvmsg(receiver.get(), &received, MSG_CMSG_CLOEXEC) != 1 ||
        (received.msg_flags & MSG_CTRUNC) != 0 || received_byte != 'x') {
      fail("recvmsg(SCM_RIGHTS)");
    }
    std::size_t arrived = 0;
    for (cmsghdr* h = CMSG_FIRSTHDR(&received); h != nullptr; h = CMSG_NXTHDR(&received, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
        continue;
      }
      const std::size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < n; ++i) {
        int value = -1;
        std::memcpy(&value, CMSG_DATA(h) + i * sizeof(int), sizeof value);
        ::close(value);
      }
      arrived += n;
    }
    if (arrived != count) {
      fail("recvmsg: wrong number of descriptors");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["descriptors"] = benchmark::Counter(
      static_cast<double>(state.iterations() * count), benchmark::Counter::kIsRate);
}

void fd_passing_sockpair(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    fail("socket_pair::create");
  }
  auto [sender, receiver] = std::move(pair).value();
  const fd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (passed.get() < 0) {
    fail("open(/dev/null)");
  }
  std::array<int, max_descriptors> fds{};
  fds.fill(passed.get());
  const std::byte byte{'x'};

  for (auto _ : state) {
    const auto sent =
        sockpair::send_with_fds(sender, {&byte, 1}, std::span<const int>(fds.data(), count));
    if (!sent || sent.value() != 1) {
      fail("send_with_fds");
    }
    std::byte received_byte{};
    const auto got = sockpair::receive_with_fds<max_descriptors>(receiver, {&received_byte, 1});
    if (!got || got.value().size != 1 || received_byte != byte || got.value().fds.size() != count) {
      fail("receive_with_fds");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["descriptors"] = benchmark::Counter(
      static_cast<double>(state.iterations() * count), benchmark::Counter::kIsRate);
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  benchmark::RegisterBenchmark(name("fd_passing", "raw_socketpair").c_str(), fd_passing_raw)
      ->Arg(1)
      ->Arg(16);
  benchmark::RegisterBenchmark(name("fd_passing", "sockpair").c_str(), fd_passing_sockpair)
      ->Arg(1)
      ->Arg(16);
  return true;
}();

}  // namespace
}  // namespace bench
