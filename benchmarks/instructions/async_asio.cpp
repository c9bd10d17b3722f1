// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Boost.Asio's asynchronous path: async_write_some / async_read_some on local::stream_protocol
// sockets, and async_wait + recvmsg(2) by hand for descriptors. See async_driver.hpp.
#include "benchmarks/instructions/async_driver.hpp"

BENCH_MEASURED void measured_async(void (*run)(void*), void* context) { run(context); }

// Asio throws only when the io_context cannot be set up; a benchmark may die then.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  return bench::instructions::drive_async<bench::async::asio_stream>(argc, argv);
}
