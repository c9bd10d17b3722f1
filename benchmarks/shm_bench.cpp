// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Large transfers through shared memory against the tuned stream pair, with memcpy measured in
// the same run as the physical limit. A writer thread (the benchmark loop) sends messages of
// `param` bytes, a reader thread takes each whole and checks its stamp (the throughput case's
// harness, see throughput_bench.cpp).
//
//   transfer/memcpy/<size>                one thread copying `size` bytes between two buffers
//   transfer/sockpair_stream_tuned/<size> stream pair, 1 MiB SO_SNDBUF/SO_RCVBUF,
//                                         send_all/receive_exact (two copies: in and out of
//                                         the kernel)
//   transfer/shm_spin/<size>              shm_channel, 4 MiB rings: `send` copies in,
//                                         `receive` copies out (two copies)
//   transfer/shm_spin_view/<size>         shm_channel: `send` copies in, the reader checks
//                                         the message in place (`receive_view`): one copy
//
// One iteration moves a batch (as throughput_bench.cpp); MB/s are 10^6 bytes per second.
//
// And the round trip between two CPUs: the latency case's exchange (latency_bench.cpp) with the
// benchmark thread bound to CPU 0 and the echo thread to CPU 1 (sched_setaffinity), so that
// the scheduler cannot put both on one CPU, where spinning can never succeed:
//
//   latency_2cpu/pipe/64, latency_2cpu/raw_socketpair_stream/64,
//   latency_2cpu/shm_spin/64 (spinning up to 1 ms), latency_2cpu/shm_nospin/64
//
// Skipped (an error in the report) on a machine with fewer than two CPUs.
// The shm contenders for the latency and messages cases are registered in latency_bench.cpp
// and messages_bench.cpp, beside the socket ones, so that their ratios come from one run.
#include <benchmark/benchmark.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/contenders.hpp"
#include "benchmarks/shm_contender.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t min_batch_bytes = std::size_t{8} << 20;
constexpr std::size_t batch_messages = 256;
constexpr int tuned_buffer_size = 1 << 20;
constexpr int shm_ring_size = 4 << 20;

template <class Channel>
void transfer(benchmark::State& state, int buffer_size) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::size_t per_batch =
      std::max<std::size_t>(batch_messages, min_batch_bytes / std::max<std::size_t>(1, size));
  auto [writer, reader] = Channel::make({.buffer_size = buffer_size});

  one_way_batches(state, writer, reader, size, per_batch, "transfer");
}

// The physical limit: memcpy of `size` bytes, hot in cache as the transfers' buffers are.
void memcpy_reference(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> from(size, std::byte{0x5a});
  std::vector<std::byte> to(size);
  for (auto _ : state) {
    std::memcpy(to.data(), from.data(), size);
    benchmark::DoNotOptimize(to.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
}

template <class Channel>
void register_transfer(const std::string& contender, int buffer_size) {
  benchmark::RegisterBenchmark(
      name("transfer", contender).c_str(),
      [buffer_size](benchmark::State& state) { transfer<Channel>(state, buffer_size); })
      ->Arg(std::int64_t{64} << 10)
      ->Arg(std::int64_t{1} << 20)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

template <class Channel>
void latency_2cpu(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  cpu_set_t allowed;
  if (!may_use_cpus_0_and_1(allowed)) {
    state.SkipWithError("latency_2cpu needs CPUs 0 and 1");
    return;
  }
  auto [near, far] = Channel::make();
  std::thread echo([&far = far, size] {
    if (!bind_to_cpu(1)) {
      fail("latency_2cpu: sched_setaffinity(1)");
    }
    std::vector<std::byte> buffer(size);
    while (far.receive_payload(buffer) == 1) {
      if (!far.send_payload(buffer)) {
        fail("latency_2cpu: echo send");
      }
    }
  });
  if (!bind_to_cpu(0)) {
    fail("latency_2cpu: sched_setaffinity(0)");
  }
  std::vector<std::byte> message(size, std::byte{0x5a});
  std::vector<std::byte> reply(size);
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    stamp(message, sequence);
    if (!near.send_payload(message)) {
      fail("latency_2cpu: send");
    }
    if (near.receive_payload(reply) != 1 || !has_stamp(reply, sequence)) {
      fail("latency_2cpu: wrong echo");
    }
    ++sequence;
  }
  near.end_writing();
  echo.join();
  ::sched_setaffinity(0, sizeof allowed, &allowed);  // the benchmark thread runs on
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Channel>
void register_latency_2cpu(const std::string& contender) {
  benchmark::RegisterBenchmark(name("latency_2cpu", contender).c_str(), latency_2cpu<Channel>)
      ->Arg(64)
      ->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  std::signal(SIGPIPE, SIG_IGN);
  benchmark::RegisterBenchmark(name("transfer", "memcpy").c_str(), memcpy_reference)
      ->Arg(std::int64_t{64} << 10)
      ->Arg(std::int64_t{1} << 20)
      ->Unit(benchmark::kMicrosecond);
  register_transfer<sockpair_channel<sockpair::stream>>("sockpair_stream_tuned", tuned_buffer_size);
  register_transfer<shm_channel_contender<20>>("shm_spin", shm_ring_size);
  register_transfer<shm_channel_contender<20, shm_reader::view>>("shm_spin_view", shm_ring_size);
  register_latency_2cpu<pipe_channel>(pipe_channel::name());
  register_latency_2cpu<raw_socketpair<sockpair::stream>>("raw_socketpair_stream");
  register_latency_2cpu<shm_channel_contender<1000>>(shm_channel_contender<1000>::name());
  register_latency_2cpu<shm_channel_contender<0>>(shm_channel_contender<0>::name());
  return true;
}();

}  // namespace
}  // namespace bench
