// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// What one receive call costs on a stream, kernel included, on one thread with nothing to wait
// for: Asio's recv(2) against the library's `socket::receive`, a recvmsg(2) offering a control
// buffer so that descriptors riding on the bytes are seen, closed and reported. The
// asynchronous cases make four such calls per round trip, two of them speculative attempts
// that find nothing; this case shows what each costs apart from everything else.
//
//   receive_call/recv/0        recv(2) on an empty non-blocking socket: EAGAIN
//   receive_call/sockpair/0    socket::receive on an empty non-blocking socket: EAGAIN
//   receive_call/recv/64       send(2) of 64 bytes on the other end, then recv(2) takes them
//   receive_call/sockpair/64   the same send(2), then socket::receive takes them
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>

#include "benchmarks/support.hpp"

namespace bench {
namespace {

// A non-blocking stream pair from the library; both contenders use its descriptors.
struct nonblocking_pair {
  nonblocking_pair() {
    auto made = sockpair::socket_pair<sockpair::stream>::create();
    if (!made || !made.value().first.set_nonblocking(true) ||
        !made.value().second.set_nonblocking(true)) {
      fail("receive_call: pair");
    }
    auto [a, b] = std::move(made).assume_value();
    near = std::move(a);
    far = std::move(b);
  }
  sockpair::socket<sockpair::stream> near;
  sockpair::socket<sockpair::stream> far;
};

// The bytes to receive, if any: a send(2) of `size` bytes on `near`, the same for both.
void put(nonblocking_pair& pair, const std::array<std::byte, 64>& out, std::size_t size) {
  if (size != 0 && ::send(pair.near.native_handle(), out.data(), size, MSG_NOSIGNAL) !=
                       static_cast<ssize_t>(size)) {
    fail("receive_call: send");
  }
}

void receive_call_recv(benchmark::State& state) {
  nonblocking_pair pair;
  const auto size = static_cast<std::size_t>(state.range(0));
  std::array<std::byte, 64> out{};
  std::array<std::byte, 64> in{};
  for (auto _ : state) {
    put(pair, out, size);
    const ssize_t n = ::recv(pair.far.native_handle(), in.data(), in.size(), 0);
    if (size == 0 ? (n != -1 || errno != EAGAIN) : n != static_cast<ssize_t>(size)) {
      fail("receive_call: recv");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void receive_call_sockpair(benchmark::State& state) {
  nonblocking_pair pair;
  const auto size = static_cast<std::size_t>(state.range(0));
  std::array<std::byte, 64> out{};
  std::array<std::byte, 64> in{};
  for (auto _ : state) {
    put(pair, out, size);
    auto got = pair.far.receive(in);
    if (size == 0 ? (got || got.error() != std::errc::resource_unavailable_try_again)
                  : (!got || got.value() != size)) {
      fail("receive_call: socket::receive");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  benchmark::RegisterBenchmark(name("receive_call", "recv").c_str(), receive_call_recv)
      ->Arg(0)
      ->Arg(64);
  benchmark::RegisterBenchmark(name("receive_call", "sockpair").c_str(), receive_call_sockpair)
      ->Arg(0)
      ->Arg(64);
  return true;
}();

}  // namespace
}  // namespace bench
