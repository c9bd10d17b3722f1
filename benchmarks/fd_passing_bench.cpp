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

#include "benchmarks/raw_fd_passing.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t max_descriptors = raw_max_fds;

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

  std::array<int, max_descriptors> copies{};
  copies.fill(passed.get());
  for (auto _ : state) {
    if (!raw_pass_fds(sender.get(), receiver.get(), std::span<const int>(copies.data(), count))) {
      fail("sendmsg/recvmsg(SCM_RIGHTS)");
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
