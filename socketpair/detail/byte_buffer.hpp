// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// A growable byte array for the framing buffers: no zero-filling, no exceptions (allocation
// failure is ENOMEM), capacity kept once reached. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/result.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <system_error>
#include <utility>

namespace sockpair::detail {

class byte_buffer {
 public:
  byte_buffer() noexcept = default;
  byte_buffer(byte_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    if (this != &other) {
      delete[] data_;
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  ~byte_buffer() { delete[] data_; }

  [[nodiscard]] std::byte* data() noexcept { return data_; }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Makes the capacity exactly `capacity` (which must be >= `keep`), keeping the first `keep`
  /// bytes. On allocation failure nothing changes and the error is ENOMEM.
  [[nodiscard]] result<void> reallocate(std::size_t capacity, std::size_t keep) noexcept {
    // Owned by `data_` from below on, and freed by the destructor or the next reallocation.
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): no gsl::owner in this project
    auto* bigger = new (std::nothrow) std::byte[capacity];
    if (bigger == nullptr) {
      return errno_code(ENOMEM);
    }
    if (keep > 0) {
      std::memcpy(bigger, data_, keep);
    }
    delete[] data_;
    data_ = bigger;
    capacity_ = capacity;
    return success();
  }

 private:
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace sockpair::detail
