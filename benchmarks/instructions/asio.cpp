// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Boost.Asio's path: local::stream_protocol sockets from local::connect_pair, synchronous
// write_some/read_some with error_code (no exceptions). See driver.hpp.
#include <cstddef>

#include "benchmarks/asio.hpp"
#include "benchmarks/instructions/driver.hpp"

using end = boost::asio::local::stream_protocol::socket;

BENCH_MEASURED bool measured_send_some(end& socket, const std::byte* data, std::size_t size) {
  boost::system::error_code error;
  const std::size_t n = socket.write_some(boost::asio::buffer(data, size), error);
  return !error && n == size;
}

BENCH_MEASURED bool measured_receive_some(end& socket, std::byte* data, std::size_t size) {
  boost::system::error_code error;
  const std::size_t n = socket.read_some(boost::asio::buffer(data, size), error);
  return !error && n == size;
}

BENCH_MEASURED bool measured_send_all(end& socket, const std::byte* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    boost::system::error_code error;
    done += socket.write_some(boost::asio::buffer(data + done, size - done), error);
    if (error) {
      return false;
    }
  }
  return true;
}

BENCH_MEASURED bool measured_receive_exact(end& socket, std::byte* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    boost::system::error_code error;
    done += socket.read_some(boost::asio::buffer(data + done, size - done), error);
    if (error) {
      return false;  // EOF included
    }
  }
  return true;
}

// Asio throws only when the io_context cannot be set up; a benchmark may die then.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  boost::asio::io_context context;
  end sender(context);
  end receiver(context);
  boost::system::error_code error;
  boost::asio::local::connect_pair(sender, receiver, error);
  if (error) {
    return 1;
  }
  const bench::instructions::path<end> calls{"asio", measured_send_some, measured_receive_some,
                                             measured_send_all, measured_receive_exact};
  return bench::instructions::drive(argc, argv, calls, sender, receiver);
}
