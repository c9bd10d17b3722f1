// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Round-trip latency: the benchmark loop sends a message of `param` bytes, an echo thread
// receives it whole and sends it back, the loop receives the echo whole and checks it. One
// iteration is one round trip, the same exchange for every contender.
//
//   latency/pipe/<size>                       two pipes, one per direction
//   latency/raw_socketpair_<type>/<size>      type: stream, seqpacket, dgram
//   latency/sockpair_<type>/<size>
//   latency/asio_<type>/<size>
//   latency/shm_spin/<size>                   shm_channel, waiting calls spin up to 1 ms
//   latency/shm_nospin/<size>                 shm_channel, waiting calls sleep at once
//                                             (poll(2) on the socket, woken by a send(2))
//
// The CPU column is the process's CPU time (both threads) per round trip: what spinning costs.
#include <benchmark/benchmark.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/contenders.hpp"
#include "benchmarks/shm_contender.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

template <class Channel>
void latency(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto [near, far] = Channel::make();

  std::thread echo([&far = far, size] {
    std::vector<std::byte> buffer(size);
    while (far.receive_payload(buffer) == 1) {
      if (!far.send_payload(buffer)) {
        fail("latency: echo send");
      }
    }
  });

  std::vector<std::byte> message(size, std::byte{0x5a});
  std::vector<std::byte> reply(size);
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    stamp(message, sequence);
    if (!near.send_payload(message)) {
      fail("latency: send");
    }
    if (near.receive_payload(reply) != 1 || !has_stamp(reply, sequence)) {
      fail("latency: wrong echo");
    }
    ++sequence;
  }
  near.end_writing();
  echo.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Channel>
void register_latency(const std::string& contender) {
  benchmark::RegisterBenchmark(name("latency", contender).c_str(), latency<Channel>)
      ->Arg(1)
      ->Arg(64)
      ->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

template <class Type>
void register_socket_latency() {
  const std::string suffix = "_" + type_name<Type>();
  register_latency<raw_socketpair<Type>>(raw_socketpair<Type>::name() + suffix);
  register_latency<sockpair_channel<Type>>(sockpair_channel<Type>::name() + suffix);
  register_latency<asio_channel<Type>>(asio_channel<Type>::name() + suffix);
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  std::signal(SIGPIPE, SIG_IGN);
  register_latency<pipe_channel>(pipe_channel::name());
  register_socket_latency<sockpair::stream>();
  register_socket_latency<sockpair::seqpacket>();
  register_socket_latency<sockpair::dgram>();
  register_latency<shm_channel_contender<1000>>(shm_channel_contender<1000>::name());
  register_latency<shm_channel_contender<0>>(shm_channel_contender<0>::name());
  return true;
}();

}  // namespace
}  // namespace bench
