// Support for the shared-memory channel tests: channels made over a real pair, and messages
// whose every byte is derived from their sequence number (so a partial, torn or reordered
// message is detected by the reader alone).
#pragma once

#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {

// Both ends of a channel in this process: `first` created it, `second` accepted it.
template <class Type = stream>
std::pair<shm_channel, shm_channel> make_channels(const shm_options& options = {}) {
  auto pair = socket_pair<Type>::create().value();
  auto creator = shm_channel::create(std::move(pair.first), options);
  EXPECT_TRUE(creator) << creator.error().message();
  auto acceptor = shm_channel::accept(std::move(pair.second), options);
  EXPECT_TRUE(acceptor) << acceptor.error().message();
  if (!creator || !acceptor) {
    return {};
  }
  return {std::move(creator).value(), std::move(acceptor).value()};
}

// The size of message number `n`: empty ones, small ones and a few large ones.
inline std::size_t message_size(std::uint64_t n, std::size_t max) {
  static constexpr std::size_t sizes[] = {0, 1, 7, 8, 64, 100, 1000, 4096, 20000};
  const std::size_t s = sizes[n % (sizeof sizes / sizeof sizes[0])];
  return s < max ? s : max;
}

inline std::vector<std::byte> message_bytes(std::uint64_t n, std::size_t max) {
  return pattern(n * 7919, message_size(n, max));
}

// True when `got` is exactly message number `n`.
inline bool is_message(std::span<const std::byte> got, std::uint64_t n, std::size_t max) {
  const auto want = message_bytes(n, max);
  return got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin());
}

}  // namespace sockpair::testing
