// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Plumbing shared by the benchmark cases: a raw descriptor owner, message stamps that let a
// reader check it got every message in order, a clock, and the naming convention.
//
// Every benchmark is named `<case>/<contender>/<param>`, e.g. `throughput_stream/pipe/65536`.
// A benchmark that finds its data wrong (a lost, reordered or short message) is broken, not
// slow: it prints why and aborts the whole run, so no number from it reaches a report.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <system_error>
#include <utility>

namespace bench {

using bytes = std::span<std::byte>;
using const_bytes = std::span<const std::byte>;

/// A broken benchmark: says what went wrong (with errno, if set) and aborts.
[[noreturn]] inline void fail(const char* what) {
  const int err = errno;
  std::fprintf(stderr, "benchmark failed: %s (errno %d: %s)\n", what, err,
               std::system_category().message(err).c_str());
  std::abort();
}

/// Owns one raw descriptor, for the contenders that do not use the library.
class fd {
 public:
  fd() = default;
  explicit fd(int value) : value_(value) {}
  fd(fd&& other) noexcept : value_(std::exchange(other.value_, -1)) {}
  fd& operator=(fd&& other) noexcept {
    reset(std::exchange(other.value_, -1));
    return *this;
  }
  fd(const fd&) = delete;
  fd& operator=(const fd&) = delete;
  ~fd() { reset(); }

  [[nodiscard]] int get() const { return value_; }
  void reset(int value = -1) {
    if (value_ >= 0) {
      ::close(value_);
    }
    value_ = value;
  }

 private:
  int value_ = -1;
};

/// Writes message number `sequence` into the head of `message` (as many bytes as fit, up to 8).
inline void stamp(bytes message, std::uint64_t sequence) {
  std::memcpy(message.data(), &sequence, std::min(message.size(), sizeof sequence));
}

/// True when `message` carries the stamp of message number `sequence`.
[[nodiscard]] inline bool has_stamp(const_bytes message, std::uint64_t sequence) {
  return std::memcmp(message.data(), &sequence, std::min(message.size(), sizeof sequence)) == 0;
}

/// Nanoseconds on a clock that every thread shares (CLOCK_MONOTONIC).
[[nodiscard]] inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// `<case>/<contender>`; Google Benchmark appends `/<param>`.
[[nodiscard]] inline std::string name(const std::string& case_name, const std::string& contender) {
  return case_name + "/" + contender;
}

}  // namespace bench
