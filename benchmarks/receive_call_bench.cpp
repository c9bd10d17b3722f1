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
//   receive_call/epoll_rearm/0 no receive: epoll_ctl(EPOLL_CTL_MOD) of the empty socket,
//                              registered as Asio's reactor registers it: the re-arm a wait
//                              starts with (Asio's async_wait, so the hand-written descriptor
//                              path), what waiting first would cost instead of an attempt
//                              that finds nothing
#include <benchmark/benchmark.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
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

// One receive per iteration, after a send(2) of `state.range(0)` bytes on `near` (none: the
// receive finds an empty socket). `receive(fd, buffer)` is the contender's call: the count
// received, or -errno.
template <class Receive>
void receive_call(benchmark::State& state, Receive receive) {
  nonblocking_pair pair;
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::array<std::byte, 64> out{};
  std::array<std::byte, 64> in{};
  for (auto _ : state) {
    if (size != 0 && ::send(pair.near.native_handle(), out.data(), size, MSG_NOSIGNAL) !=
                         static_cast<ssize_t>(size)) {
      fail("receive_call: send");
    }
    const long got = receive(pair.far, std::span<std::byte>(in));
    if (size == 0 ? got != -EAGAIN : got != static_cast<long>(size)) {
      fail("receive_call: receive");
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void receive_call_recv(benchmark::State& state) {
  receive_call(state, [](sockpair::socket<sockpair::stream>& end, std::span<std::byte> buffer) {
    const ssize_t n = ::recv(end.native_handle(), buffer.data(), buffer.size(), 0);
    return n < 0 ? -static_cast<long>(errno) : static_cast<long>(n);
  });
}

void receive_call_sockpair(benchmark::State& state) {
  receive_call(state, [](sockpair::socket<sockpair::stream>& end, std::span<std::byte> buffer) {
    auto got = end.receive(buffer);
    if (!got) {
      return got.error() == std::errc::resource_unavailable_try_again ? -long{EAGAIN} : -1L;
    }
    return static_cast<long>(got.value());
  });
}

void receive_call_epoll_rearm(benchmark::State& state) {
  nonblocking_pair pair;
  const fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  // The events Asio's epoll_reactor registers a descriptor with, edge-triggered.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLET;
  if (epoll.get() < 0 ||
      ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, pair.far.native_handle(), &event) != 0) {
    fail("receive_call: epoll");
  }
  for (auto _ : state) {
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, pair.far.native_handle(), &event) != 0) {
      fail("receive_call: epoll_ctl");
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
  benchmark::RegisterBenchmark(name("receive_call", "epoll_rearm").c_str(),
                               receive_call_epoll_rearm)
      ->Arg(0);
  return true;
}();

}  // namespace
}  // namespace bench
