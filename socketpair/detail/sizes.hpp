// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// std::min, std::max and a saturating + for sizes, without <algorithm> (which costs every includer
// of the umbrella header about 11,000 preprocessed lines). Nothing here is part of the interface.
#pragma once

#include <socketpair/detail/config.hpp>

#include <cstddef>
#include <span>

namespace sockpair::detail {

[[nodiscard]] constexpr std::size_t smaller_of(std::size_t a, std::size_t b) noexcept {
  return b < a ? b : a;
}

[[nodiscard]] constexpr std::size_t larger_of(std::size_t a, std::size_t b) noexcept {
  return a < b ? b : a;
}

/// `a + b`, or SIZE_MAX where that would wrap: a sum of limits that no buffer can reach
/// stays unreachable instead of becoming small.
[[nodiscard]] constexpr std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
  return a + b < a ? static_cast<std::size_t>(-1) : a + b;
}

/// Total bytes in a span of buffers. Cannot wrap: the buffers are distinct objects in one
/// address space.
template <class Byte>
[[nodiscard]] std::size_t total_size(std::span<const std::span<Byte>> buffers) noexcept {
  std::size_t total = 0;
  for (const auto& b : buffers) {
    total += b.size();
  }
  return total;
}

}  // namespace sockpair::detail
