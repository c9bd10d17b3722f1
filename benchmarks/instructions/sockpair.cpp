// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The library's path: sockpair::socket<stream>'s send/receive and send_all/receive_exact on
// a socket_pair<stream>. See driver.hpp.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <utility>

#include "benchmarks/instructions/driver.hpp"

using end = sockpair::socket<sockpair::stream>;

BENCH_MEASURED bool measured_send_some(end& socket, const std::byte* data, std::size_t size) {
  const auto sent = socket.send({data, size});
  return sent && sent.value() == size;
}

BENCH_MEASURED bool measured_receive_some(end& socket, std::byte* data, std::size_t size) {
  const auto got = socket.receive({data, size});
  return got && got.value() == size;
}

BENCH_MEASURED bool measured_send_all(end& socket, const std::byte* data, std::size_t size) {
  return socket.send_all(std::span<const std::byte>(data, size)).has_value();
}

BENCH_MEASURED bool measured_receive_exact(end& socket, std::byte* data, std::size_t size) {
  return socket.receive_exact(std::span<std::byte>(data, size)).has_value();
}

BENCH_MEASURED bool measured_pass_fds(end& sender, end& receiver, std::span<const int> fds) {
  const std::byte byte{'x'};
  const auto sent = sockpair::send_with_fds(sender, std::span(&byte, 1), fds);
  if (!sent || sent.value() != 1) {
    return false;
  }
  std::byte received_byte{};
  const auto got = sockpair::receive_with_fds<bench::instructions::max_fds>(
      receiver, std::span(&received_byte, 1));
  return got && got.value().size == 1 && received_byte == byte &&
         got.value().fds.size() == fds.size();
}

int main(int argc, char** argv) {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    return 1;
  }
  auto [sender, receiver] = std::move(pair).value();
  const bench::instructions::path<end> calls{
      "sockpair",        measured_send_some,     measured_receive_some,
      measured_send_all, measured_receive_exact, measured_pass_fds};
  return bench::instructions::drive(argc, argv, calls, sender, receiver);
}
