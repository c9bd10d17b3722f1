// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// A growable byte array for the framing buffers: no zero-filling, no exceptions (allocation
// failure is ENOMEM), capacity kept once reached. Nothing here is part of the public interface.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/result.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <system_error>
#include <utility>

namespace sockpair::detail {

class byte_buffer {
 public:
  byte_buffer() noexcept = default;
  byte_buffer(byte_buffer&& other) noexcept
      : storage_(std::move(other.storage_)), capacity_(std::exchange(other.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    storage_ = std::move(other.storage_);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  ~byte_buffer() = default;

  [[nodiscard]] std::byte* data() noexcept { return storage_.get(); }
  [[nodiscard]] const std::byte* data() const noexcept { return storage_.get(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Makes the capacity exactly `capacity` (which must be >= `keep`), keeping the first `keep`
  /// bytes. On allocation failure nothing changes and the error is ENOMEM.
  [[nodiscard]] result<void> reallocate(std::size_t capacity, std::size_t keep) noexcept {
    std::unique_ptr<std::byte[]> bigger(new (std::nothrow) std::byte[capacity]);
    if (bigger == nullptr) {
      return make_error_code(std::errc::not_enough_memory);
    }
    if (keep > 0) {
      std::memcpy(bigger.get(), storage_.get(), keep);
    }
    storage_ = std::move(bigger);
    capacity_ = capacity;
    return success();
  }

 private:
  std::unique_ptr<std::byte[]> storage_;
  std::size_t capacity_ = 0;
};

}  // namespace sockpair::detail
