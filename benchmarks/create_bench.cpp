// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Creating and closing a pair, one iteration each (close-on-exec set where the contender
// lets one ask for it atomically; Asio's connect_pair does not).
//
//   create/pipe/0                     pipe2(O_CLOEXEC) + 2 x close(2)
//   create/raw_socketpair_<type>/0    socketpair(AF_UNIX, type | SOCK_CLOEXEC) + 2 x close(2)
//   create/sockpair_<type>/0          socket_pair<type>::create(), destroyed
//   create/asio_<type>/0              two Asio sockets + local::connect_pair, destroyed
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

#include "benchmarks/asio.hpp"
#include "benchmarks/contenders.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

void create_pipe(benchmark::State& state) {
  for (auto _ : state) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
      fail("pipe2");
    }
    ::close(fds[0]);
    ::close(fds[1]);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Type>
void create_raw_socketpair(benchmark::State& state) {
  for (auto _ : state) {
    std::array<int, 2> fds{};
    if (::socketpair(AF_UNIX, Type::value | SOCK_CLOEXEC, 0, fds.data()) != 0) {
      fail("socketpair");
    }
    ::close(fds[0]);
    ::close(fds[1]);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Type>
void create_sockpair(benchmark::State& state) {
  for (auto _ : state) {
    auto pair = sockpair::socket_pair<Type>::create();
    if (!pair) {
      fail("socket_pair::create");
    }
    benchmark::DoNotOptimize(pair);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Type>
void create_asio(benchmark::State& state) {
  using socket_type = typename asio_socket<Type>::type;
  for (auto _ : state) {
    socket_type first(asio_context());
    socket_type second(asio_context());
    boost::system::error_code error;
    boost::asio::local::connect_pair(first, second, error);
    if (error) {
      fail("asio connect_pair");
    }
    benchmark::DoNotOptimize(first);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class Type>
void register_socket_create() {
  const std::string suffix = "_" + type_name<Type>();
  benchmark::RegisterBenchmark(name("create", "raw_socketpair" + suffix).c_str(),
                               create_raw_socketpair<Type>)
      ->Arg(0);
  benchmark::RegisterBenchmark(name("create", "sockpair" + suffix).c_str(), create_sockpair<Type>)
      ->Arg(0);
  if constexpr (!std::is_same_v<Type, sockpair::seqpacket>) {  // Asio 1.81: no local seqpacket
    benchmark::RegisterBenchmark(name("create", "asio" + suffix).c_str(), create_asio<Type>)
        ->Arg(0);
  }
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  benchmark::RegisterBenchmark(name("create", "pipe").c_str(), create_pipe)->Arg(0);
  register_socket_create<sockpair::stream>();
  register_socket_create<sockpair::seqpacket>();
  register_socket_create<sockpair::dgram>();
  return true;
}();

}  // namespace
}  // namespace bench
