// Test harness for the reliability suite: real faults from the kernel, nothing mocked.
//
// - `descriptor_limit`: lowers RLIMIT_NOFILE for a scope (EMFILE on demand).
// - `signal_storm`: a timer signal every few microseconds aimed at the calling thread, with a
//   handler installed WITHOUT SA_RESTART, so every blocking system call in that thread keeps
//   being interrupted (EINTR, or a short count).
// - `pattern_word`, `fill_pattern`, `first_mismatch`: a byte stream whose every 8-byte word
//   depends on its position, so a lost, repeated or reordered byte is found where it happens.
// - `scaled_down`: true under ThreadSanitizer, where the biggest transfers are scaled down
//   (each test names its constant).
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <span>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOCKPAIR_TEST_THREAD_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SOCKPAIR_TEST_THREAD_SANITIZER 1
#endif

namespace sockpair::reliability {

/// True under ThreadSanitizer, which instruments every load and store (the pattern checks
/// run about five times slower): the biggest transfers are scaled down there, each test
/// naming its constant. AddressSanitizer and UBSan run the full sizes. Compiling with
/// -DSOCKPAIR_TEST_FULL_SIZE restores the full sizes under ThreadSanitizer too.
#if defined(SOCKPAIR_TEST_THREAD_SANITIZER) && !defined(SOCKPAIR_TEST_FULL_SIZE)
inline constexpr bool scaled_down = true;
#else
inline constexpr bool scaled_down = false;
#endif

/// 1024, as a std::size_t: `64 * kib` multiplies in size_t, not in int.
inline constexpr std::size_t kib = 1024;

// ---- Descriptors ----------------------------------------------------------------------------

/// Sets the soft RLIMIT_NOFILE for its lifetime: no descriptor numbered `limit` or above can
/// be created (EMFILE). The previous limit comes back on destruction.
class descriptor_limit {
 public:
  explicit descriptor_limit(rlim_t limit) noexcept {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) {
      return;
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = limit;
    ok_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~descriptor_limit() {
    if (ok_) {
      static_cast<void>(::setrlimit(RLIMIT_NOFILE, &saved_));
    }
  }
  descriptor_limit(const descriptor_limit&) = delete;
  descriptor_limit& operator=(const descriptor_limit&) = delete;

  /// False when the limit could not be set (the test must not go on).
  [[nodiscard]] bool ok() const noexcept { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

/// The lowest descriptor number not in use: the kernel always hands out the lowest free
/// number, so a limit of `lowest_free_descriptor() + k` leaves exactly k creatable when no
/// higher number is free below the limit (callers check with `open_fds()`).
inline int lowest_free_descriptor() noexcept {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
  }
  return fd;
}

// ---- Signals --------------------------------------------------------------------------------

/// Signals counted by every `signal_storm` handler so far, across threads.
inline std::atomic<std::uint64_t> storm_signals{0};

/// A POSIX timer that sends a signal every `period` to the thread that made the storm, with
/// a handler that only counts, installed without SA_RESTART: blocking system calls in that
/// thread fail with EINTR (or return a short count) over and over. Destroy it in the thread
/// that made it. The handler stays installed (a signal may still be pending somewhere); every
/// storm uses the same signal and the same handler.
class signal_storm {
 public:
  /// The signal used: a real-time signal nothing else in these tests uses.
  static int signal_number() noexcept { return SIGRTMIN + 1; }

  explicit signal_storm(std::chrono::microseconds period) noexcept {
    struct sigaction action {};
    action.sa_handler = &on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: interrupted calls fail with EINTR
    if (::sigaction(signal_number(), &action, nullptr) != 0) {
      return;
    }
    sigevent event{};
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = signal_number();
    event._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::timer_create(CLOCK_MONOTONIC, &event, &timer_) != 0) {
      return;
    }
    const auto ns = std::chrono::nanoseconds(period).count();
    itimerspec spec{};
    spec.it_interval.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_interval.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    spec.it_value = spec.it_interval;
    ok_ = ::timer_settime(timer_, 0, &spec, nullptr) == 0;
    if (!ok_) {
      ::timer_delete(timer_);
    }
  }
  ~signal_storm() {
    if (ok_) {
      ::timer_delete(timer_);
    }
  }
  signal_storm(const signal_storm&) = delete;
  signal_storm& operator=(const signal_storm&) = delete;

  /// False when the handler or the timer could not be set up.
  [[nodiscard]] bool ok() const noexcept { return ok_; }

 private:
  static void on_signal(int) noexcept { storm_signals.fetch_add(1, std::memory_order_relaxed); }

  timer_t timer_{};
  bool ok_ = false;
};

// ---- Position-stamped data -------------------------------------------------------------------

/// The 8-byte word at word index `index` of a stream seeded with `seed` (splitmix64): every
/// word differs from its neighbours, so a byte lost, repeated or moved changes what is seen.
[[nodiscard]] constexpr std::uint64_t pattern_word(std::uint64_t seed,
                                                   std::uint64_t index) noexcept {
  std::uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Fills `out` with the stream's bytes from byte `offset` on (`offset` and `out.size()`
/// multiples of 8).
inline void fill_pattern(std::uint64_t seed, std::uint64_t offset, std::span<std::byte> out) {
  const std::uint64_t first = offset / 8;
  for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
    const std::uint64_t word = pattern_word(seed, first + i / 8);
    std::memcpy(out.data() + i, &word, 8);
  }
}

/// The offset in `in` of the first 8-byte word that is not the stream's word at that
/// position, or `in.size()` when all match (`offset` and `in.size()` multiples of 8).
[[nodiscard]] inline std::size_t first_mismatch(std::uint64_t seed, std::uint64_t offset,
                                                std::span<const std::byte> in) {
  const std::uint64_t first = offset / 8;
  for (std::size_t i = 0; i + 8 <= in.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, in.data() + i, 8);
    if (word != pattern_word(seed, first + i / 8)) {
      return i;
    }
  }
  return in.size();
}

/// A running checksum over 8-byte words (order-sensitive): both ends compute it over what
/// they sent and received.
class checksum {
 public:
  void add(std::span<const std::byte> data) noexcept {
    for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, data.data() + i, 8);
      state_ = (state_ ^ word) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    }
  }
  [[nodiscard]] std::uint64_t value() const noexcept { return state_; }

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace sockpair::reliability
