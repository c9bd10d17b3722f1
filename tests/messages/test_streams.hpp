// Test support for the framing tests: byte streams that split their data the way a kernel
// may, reproducibly (each is driven by a seeded PRNG).
#pragma once

#include <socketpair/framing.hpp>
#include <socketpair/result.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <system_error>
#include <vector>

namespace sockpair::testing {

/// A byte stream in memory. Each send takes, and each receive returns, a random 1..max_step
/// bytes (fewer when fewer are asked for or left). Receiving past the end returns 0.
class choppy_memory_stream {
 public:
  choppy_memory_stream(std::uint32_t seed, std::size_t max_step) : random_(seed), max_(max_step) {}

  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data) noexcept {
    const std::size_t n = std::min(data.size(), step());
    bytes.insert(bytes.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }

  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
    ++receive_calls;
    const std::size_t n = std::min({buffer.size(), step(), bytes.size() - read_position});
    if (n > 0) {
      std::memcpy(buffer.data(), bytes.data() + read_position, n);
    }
    read_position += n;
    return n;
  }

  std::vector<std::byte> bytes;
  std::size_t read_position = 0;
  std::size_t receive_calls = 0;

 private:
  std::size_t step() { return std::uniform_int_distribution<std::size_t>(1, max_)(random_); }

  std::mt19937 random_;
  std::size_t max_;
};

/// A byte stream over another that passes on at most a random 1..max_step bytes per call:
/// over a real socket it makes the kernel see (and return) arbitrary splits.
template <byte_stream Inner>
class trickle_stream {
 public:
  trickle_stream(Inner& inner, std::uint32_t seed, std::size_t max_step)
      : inner_(&inner), random_(seed), max_(max_step) {}

  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data) noexcept {
    return inner_->send(data.first(std::min(data.size(), step())));
  }

  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
    return inner_->receive(buffer.first(std::min(buffer.size(), step())));
  }

 private:
  std::size_t step() { return std::uniform_int_distribution<std::size_t>(1, max_)(random_); }

  Inner* inner_;
  std::mt19937 random_;
  std::size_t max_;
};

/// A byte stream in memory whose receive fails with `operation_would_block` while `blocked`.
class blockable_memory_stream {
 public:
  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data) noexcept {
    bytes.insert(bytes.end(), data.begin(), data.end());
    return data.size();
  }

  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
    const std::size_t n = std::min(buffer.size(), bytes.size() - read_position);
    if (n == 0 && blocked) {
      return std::make_error_code(std::errc::operation_would_block);
    }
    if (n > 0) {
      std::memcpy(buffer.data(), bytes.data() + read_position, n);
    }
    read_position += n;
    return n;
  }

  std::vector<std::byte> bytes;
  std::size_t read_position = 0;
  bool blocked = true;
};

/// Payload bytes that identify the frame they belong to (`frame` and `size` seed them).
inline std::vector<std::byte> payload(std::size_t frame, std::size_t size) {
  std::vector<std::byte> bytes(size);
  std::uint32_t x = static_cast<std::uint32_t>(frame * 2654435761u + size);
  for (auto& b : bytes) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return bytes;
}

}  // namespace sockpair::testing
