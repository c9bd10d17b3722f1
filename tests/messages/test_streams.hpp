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
    bytes_.insert(bytes_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }

  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept {
    const std::size_t n = std::min({buffer.size(), step(), bytes_.size() - read_position_});
    if (n > 0) {
      std::memcpy(buffer.data(), bytes_.data() + read_position_, n);
    }
    read_position_ += n;
    return n;
  }

  /// Every byte sent so far.
  [[nodiscard]] const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  std::size_t step() { return std::uniform_int_distribution<std::size_t>(1, max_)(random_); }

  std::vector<std::byte> bytes_;
  std::size_t read_position_ = 0;
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
struct blockable_memory_stream {
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

/// A PRNG seeded with `seed`: the same seed gives the same splits and frames on every run.
inline std::mt19937 reproducible_random(std::uint32_t seed) { return std::mt19937(seed); }

/// Payload bytes that identify the frame they belong to (`frame` and `size` seed them).
inline std::vector<std::byte> payload(std::size_t frame, std::size_t size) {
  std::vector<std::byte> bytes(size);
  auto x = static_cast<std::uint32_t>(frame * 2654435761U + size);
  for (auto& b : bytes) {
    x = x * 1103515245U + 12345U;
    b = static_cast<std::byte>(x >> 24);
  }
  return bytes;
}

}  // namespace sockpair::testing
