// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Asynchronous I/O through an io_context on one thread (benchmarks/async_contenders.hpp): the
// same exchange for every contender, each over its own asynchronous calls.
//
//   async_latency/<contender>/64      one 64-byte round trip (ping-pong) per iteration
//   async_messages/<contender>/64     one 64-byte message, one send operation each, per
//                                     iteration (the writer runs ahead of the reader)
//   async_fd_passing/<contender>/1    one 1-byte message with one descriptor, received
//                                     asynchronously, the descriptor closed, per iteration
//
// Contenders: `asio` (Boost.Asio's async_write_some / async_read_some on
// local::stream_protocol sockets; for descriptors, async_wait then recvmsg(2) by hand) and
// `sockpair` (<socketpair/asio.hpp>: async_send / async_receive, async_receive_with_fds<1>).
// One thread does everything, so the time is CPU time, and no cross-CPU wake-up enters it.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "benchmarks/async_contenders.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

/// Google Benchmark's state as the cases' `Steps`.
class benchmark_steps {
 public:
  explicit benchmark_steps(benchmark::State& state) : state_(state) {}
  bool next() { return state_.KeepRunning(); }

 private:
  benchmark::State& state_;
};

template <class C>
void async_latency(benchmark::State& state) {
  async::net::io_context io(1);
  C contender(io);
  benchmark_steps steps(state);
  async::ping_pong<C, benchmark_steps> exchange(contender, steps,
                                                static_cast<std::size_t>(state.range(0)));
  exchange.start();
  io.run();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class C>
void async_messages(benchmark::State& state) {
  async::net::io_context io(1);
  C contender(io);
  benchmark_steps steps(state);
  async::message_rate<C, benchmark_steps> exchange(contender, steps);
  exchange.start();
  io.run();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class C>
void async_fd_passing(benchmark::State& state) {
  async::net::io_context io(1);
  C contender(io);
  const fd passed(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (passed.get() < 0) {
    fail("open(/dev/null)");
  }
  benchmark_steps steps(state);
  async::fd_passing<C, benchmark_steps> exchange(contender, steps, passed.get());
  exchange.start();
  io.run();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class C>
void register_streaming() {
  benchmark::RegisterBenchmark(name("async_latency", C::name()).c_str(), async_latency<C>)
      ->Arg(64)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(name("async_messages", C::name()).c_str(), async_messages<C>)
      ->Arg(64);
}

template <class C>
void register_contender() {
  register_streaming<C>();
  benchmark::RegisterBenchmark(name("async_fd_passing", C::name()).c_str(), async_fd_passing<C>)
      ->Arg(1);
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  register_contender<async::asio_stream>();
  register_contender<async::sockpair_stream>();
  if (async::sockpair_refusing::available()) {
    register_streaming<async::sockpair_refusing>();
  }
  return true;
}();

}  // namespace
}  // namespace bench
