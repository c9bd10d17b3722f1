// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Plumbing shared by the benchmark cases: a raw descriptor owner, message stamps that let a
// reader check it got every message in order, a clock, the naming convention, and the one-way
// batch loop of the throughput and transfer cases.
//
// Every benchmark is named `<case>/<contender>/<param>`, e.g. `throughput_stream/pipe/65536`.
// A benchmark that finds its data wrong (a lost, reordered or short message) is broken, not
// slow: it prints why and aborts the whole run, so no number from it reaches a report.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include <thread>
#include <utility>
#include <vector>

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

/// Binds the calling thread to `cpu`; false where it may not run there.
inline bool bind_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

/// The calling thread's CPUs, into `allowed`; true if CPUs 0 and 1 are among them.
inline bool may_use_cpus_0_and_1(cpu_set_t& allowed) {
  CPU_ZERO(&allowed);
  return ::sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) >= 2 &&
         CPU_ISSET(0, &allowed) && CPU_ISSET(1, &allowed);
}

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

/// One-way batches: the benchmark loop (`state`, a benchmark::State) is the writer and sends
/// `per_batch` stamped messages of `size` bytes per iteration through `writer`; a reader
/// thread takes each whole from `reader` and checks its stamp. An iteration's time (manual
/// time) runs from the writer's first call until the reader holds the batch's last byte, so
/// bytes still in a kernel buffer never count as moved. Sets bytes and items processed.
/// `what` names the case in failure messages. The channels follow contenders.hpp's interface.
template <class State, class Writer, class Reader>
void one_way_batches(State& state, Writer& writer, Reader& reader, std::size_t size,
                     std::size_t per_batch, const std::string& what) {
  std::atomic<std::uint64_t> batches_read{0};
  std::atomic<std::int64_t> last_byte_at{0};
  std::thread reader_thread([&] {
    std::vector<std::byte> buffer(size);
    std::uint64_t sequence = 0;
    for (std::uint64_t batch = 1;; ++batch) {
      for (std::size_t m = 0; m < per_batch; ++m) {
        if (reader.receive_payload(buffer) == 0) {
          return;  // the writer is done
        }
        if (!has_stamp(buffer, sequence++)) {
          fail((what + ": message lost or out of order").c_str());
        }
      }
      last_byte_at.store(now_ns(), std::memory_order_relaxed);
      batches_read.store(batch, std::memory_order_release);
      batches_read.notify_one();
    }
  });

  std::vector<std::byte> message(size, std::byte{0x5a});
  std::uint64_t sequence = 0;
  std::uint64_t batch = 0;
  for ([[maybe_unused]] auto _ : state) {
    const std::int64_t started = now_ns();
    for (std::size_t m = 0; m < per_batch; ++m) {
      stamp(message, sequence++);
      if (!writer.send_payload(message)) {
        fail((what + ": send").c_str());
      }
    }
    ++batch;
    for (auto seen = batches_read.load(std::memory_order_acquire); seen != batch;
         seen = batches_read.load(std::memory_order_acquire)) {
      batches_read.wait(seen, std::memory_order_acquire);
    }
    state.SetIterationTime(
        static_cast<double>(last_byte_at.load(std::memory_order_relaxed) - started) * 1e-9);
  }
  writer.end_writing();
  reader_thread.join();
  const auto messages =
      static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(per_batch);
  state.SetBytesProcessed(messages * static_cast<std::int64_t>(size));
  state.SetItemsProcessed(messages);
}

}  // namespace bench
