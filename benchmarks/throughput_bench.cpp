// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// One-way throughput: a writer thread (the benchmark loop) sends messages of `param` bytes,
// a reader thread reads each one whole and checks its stamp.
//
//   throughput_stream/<contender>/<size>        kernel default buffers
//   throughput_stream_tuned/<contender>/<size>  1 MiB buffers: SO_SNDBUF/SO_RCVBUF on sockets,
//                                               F_SETPIPE_SZ on the pipe
//
// One iteration moves a batch: 2048 messages, at least 1 MiB and at most 16 MiB, a few
// milliseconds at the rates seen here. Its time runs from the writer's first call until the
// reader holds the batch's last byte (manual time), so bytes still in a kernel buffer never
// count as moved; the one wake-up that starts a batch is amortised over the whole batch.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>

#include "benchmarks/contenders.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t min_batch_bytes = std::size_t{1} << 20;
constexpr std::size_t max_batch_bytes = std::size_t{16} << 20;
constexpr std::size_t batch_messages = 2048;
constexpr int tuned_buffer_size = 1 << 20;

template <class Channel>
void throughput(benchmark::State& state, int buffer_size) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::size_t batch_bytes =
      std::clamp(size * batch_messages, min_batch_bytes, max_batch_bytes);
  const std::size_t per_batch = std::max<std::size_t>(1, batch_bytes / size);
  auto [writer, reader] = Channel::make({.buffer_size = buffer_size});

  one_way_batches(state, writer, reader, size, per_batch, "throughput");
}

template <class Channel>
void register_throughput() {
  for (const auto& [case_name, buffer_size] :
       {std::pair<const char*, int>{"throughput_stream", 0},
        std::pair<const char*, int>{"throughput_stream_tuned", tuned_buffer_size}}) {
    benchmark::RegisterBenchmark(name(case_name, Channel::name()).c_str(),
                                 [buffer_size = buffer_size](benchmark::State& state) {
                                   throughput<Channel>(state, buffer_size);
                                 })
        ->Arg(64)
        ->Arg(1024)
        ->Arg(4096)
        ->Arg(64 * 1024)
        ->Arg(1024 * 1024)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  std::signal(SIGPIPE, SIG_IGN);  // a pipe's writer must see EPIPE, not die, if its reader fails
  register_throughput<pipe_channel>();
  register_throughput<raw_socketpair<sockpair::stream>>();
  register_throughput<sockpair_channel<sockpair::stream>>();
  register_throughput<asio_channel<sockpair::stream>>();
  return true;
}();

}  // namespace
}  // namespace bench
