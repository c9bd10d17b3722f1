// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The loop shared by the asynchronous instruction-count programs (async_asio.cpp,
// async_sockpair.cpp): the exchanges of benchmarks/async_contenders.hpp on one io_context,
// N steps each, counted under callgrind with `--toggle-collect=measured_*`:
//
//   measured_async   starting the exchange and running the io_context until it is done:
//                    everything the contender's asynchronous calls cost in user space (the
//                    scheduler, the reactor, the handlers) plus the exchange's own checks,
//                    which are the same code for every contender
//
//   usage: PROGRAM [N=100000] [async|async_fd1]
//     async      N round trips of 64 bytes (ping_pong)
//     async_fd1  N messages of 1 byte carrying one descriptor, received asynchronously
//
// Exit status 0 only when every step was checked (and every received descriptor closed);
// 3 for the synchronous modes (some, exact, fd1, fd16), which these programs do not run.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "benchmarks/async_contenders.hpp"
#include "benchmarks/instructions/driver.hpp"

/// Runs `run(context)`: the measured part of a program, defined in each program as
/// `BENCH_MEASURED void measured_async(void (*run)(void*), void* context) { run(context); }`.
extern "C" void measured_async(void (*run)(void*), void* context);

namespace bench::instructions {

/// `Steps` for a fixed number of steps.
class countdown {
 public:
  explicit countdown(long steps) : left_(steps) {}
  bool next() { return left_-- > 0; }

 private:
  long left_;
};

template <class Exchange>
void start_and_run(void* context) {
  auto* job = static_cast<std::pair<Exchange*, async::net::io_context*>*>(context);
  job->first->start();
  job->second->run();
}

template <class C>
int drive_async(int argc, char** argv) {
  const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : default_count;
  const std::string_view mode = argc > 2 ? argv[2] : "async";
  if (mode == "some" || mode == "exact" || mode == "fd1" || mode == "fd16") {
    std::fprintf(stderr, "%s: cannot run the synchronous mode %s\n", C::name().c_str(), argv[2]);
    return 3;
  }
  if (count < 0 || (mode != "async" && mode != "async_fd1")) {
    std::fprintf(stderr, "usage: %s [N] [async|async_fd1]\n", argv[0]);
    return 2;
  }
  async::net::io_context io(1);
  C contender(io);
  countdown steps(count);
  if (mode == "async") {
    async::ping_pong<C, countdown> exchange(contender, steps, message_size);
    std::pair<decltype(exchange)*, async::net::io_context*> job{&exchange, &io};
    measured_async(start_and_run<decltype(exchange)>, &job);
    if (exchange.round_trips() != static_cast<std::uint64_t>(count)) {
      std::fprintf(stderr, "%s: %llu round trips of %ld\n", C::name().c_str(),
                   static_cast<unsigned long long>(exchange.round_trips()), count);
      return 1;
    }
    std::printf("%s: %ld messages of %zu bytes verified (async round trips)\n", C::name().c_str(),
                count, message_size);
    return 0;
  }
  const int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int lowest_free = ::dup(passed);
  ::close(lowest_free);
  async::fd_passing<C, countdown> exchange(contender, steps, passed);
  std::pair<decltype(exchange)*, async::net::io_context*> job{&exchange, &io};
  measured_async(start_and_run<decltype(exchange)>, &job);
  const int probe = ::dup(passed);
  ::close(probe);
  ::close(passed);
  if (exchange.received() != static_cast<std::uint64_t>(count) || probe != lowest_free) {
    std::fprintf(stderr, "%s: %llu of %ld descriptors received, or some left open\n",
                 C::name().c_str(), static_cast<unsigned long long>(exchange.received()), count);
    return 1;
  }
  std::printf("%s: %ld messages of 1 byte with 1 descriptors verified (async_fd1)\n",
              C::name().c_str(), count);
  return 0;
}

}  // namespace bench::instructions
