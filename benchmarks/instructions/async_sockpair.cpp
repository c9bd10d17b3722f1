// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The library's asynchronous path (<socketpair/asio.hpp>): async_send / async_receive on an
// async_socket<stream>, async_receive_with_fds<1> for descriptors. See async_driver.hpp.
#include "benchmarks/instructions/async_driver.hpp"

BENCH_MEASURED void measured_async(void (*run)(void*), void* context) { run(context); }

// Asio throws only when the io_context cannot be set up; a benchmark may die then.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  return bench::instructions::drive_async<bench::async::sockpair_stream>(argc, argv);
}
