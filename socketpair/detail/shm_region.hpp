// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The shared region of a shm_channel: its layout, the sealed memfd that holds it, its mapping,
// and the few primitives that touch memory another process may write at any time.
// Not part of the public interface; docs/shared_memory.md describes the layout and protocol.
#pragma once

#include <socketpair/detail/config.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__SANITIZE_THREAD__)
#define SOCKPAIR_SHM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOCKPAIR_SHM_TSAN 1
#endif
#endif

namespace sockpair::detail {

// ---- Layout -----------------------------------------------------------------------------------
//
//   [0, 4096)                    header page: identity at 0, then the control block of each
//                                ring, every field on its own 128-byte line (two cache lines:
//                                the adjacent-line prefetcher pairs them), then each end's
//                                CPU word, on a line of its own too
//   [4096, 4096 + R)             ring 0: written by the creator, read by the acceptor
//   [4096 + R, 4096 + 2R)        ring 1: written by the acceptor, read by the creator
//
// R, the ring size, is a power of two. A ring holds records, each 8-aligned: a uint32 length,
// 4 unused bytes, the payload, padding to 8. A length of `shm_wrap_marker` means "the rest of
// the ring is unused: continue at its start". No record crosses the ring's end.

inline constexpr std::uint64_t shm_magic = 0x3176'6d68'7370'6b73ULL;  // "skpshmv1", little-endian
inline constexpr std::uint32_t shm_version = 1;
inline constexpr std::size_t shm_header_size = 4096;
inline constexpr std::size_t shm_min_ring_size = 4096;
inline constexpr std::size_t shm_max_ring_size = std::size_t{1} << 30;
inline constexpr std::size_t shm_record_header = 8;
inline constexpr std::uint32_t shm_wrap_marker = 0xFFFF'FFFFU;

// Offsets in the header page.
inline constexpr std::size_t shm_off_magic = 0;
inline constexpr std::size_t shm_off_version = 8;
inline constexpr std::size_t shm_off_ring_size = 16;
inline constexpr std::size_t shm_line = 128;
inline constexpr std::size_t shm_ring_control = 4 * shm_line;
// Within a ring's control block (at 128 + ring * 512):
inline constexpr std::size_t shm_off_head = 0;             // producer: bytes committed, ever
inline constexpr std::size_t shm_off_tail = 1 * shm_line;  // consumer: bytes released, ever
inline constexpr std::size_t shm_off_data_waiting = 2 * shm_line;   // consumer asleep (episode)
inline constexpr std::size_t shm_off_space_waiting = 3 * shm_line;  // producer asleep (episode)

[[nodiscard]] constexpr std::size_t shm_control_offset(int ring) noexcept {
  return shm_line + static_cast<std::size_t>(ring) * shm_ring_control;
}

// After both control blocks: the CPU each end last started a wait on, plus 1 (0: not known
// yet), end 0 the creator, end 1 the acceptor. A hint for the peer's spin, nothing more. (A
// peer of the first layout never writes it: 0, not known, as the zero-filled memfd holds.)
[[nodiscard]] constexpr std::size_t shm_cpu_offset(int end) noexcept {
  return shm_control_offset(2) + static_cast<std::size_t>(end) * shm_line;
}
static_assert(shm_cpu_offset(1) + shm_line <= shm_header_size);

[[nodiscard]] constexpr std::size_t shm_region_size(std::size_t ring_size) noexcept {
  return shm_header_size + 2 * ring_size;
}

/// The largest payload of one record in a ring of `ring_size` bytes: half the ring less the
/// record header, so that a record plus the wrap it may need always fit an empty ring.
[[nodiscard]] constexpr std::size_t shm_max_payload(std::size_t ring_size) noexcept {
  return ring_size / 2 - shm_record_header;
}

[[nodiscard]] constexpr std::size_t shm_record_size(std::size_t payload) noexcept {
  return (shm_record_header + payload + 7) & ~std::size_t{7};
}

static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free &&
                  std::atomic_ref<std::uint32_t>::is_always_lock_free,
              "sockpair: shm_channel needs lock-free 32- and 64-bit atomics (address-free, so "
              "that they work between processes)");

// ---- Touching shared memory -------------------------------------------------------------------
//
// Every index and length goes through these relaxed/acquire/release atomic accesses: the peer
// may store to any of them at any time, and each is read once into a local before use.

[[nodiscard]] inline std::uint64_t* shm_word(std::byte* base, std::size_t offset) noexcept {
  return reinterpret_cast<std::uint64_t*>(base + offset);
}

// NOLINTNEXTLINE(readability-non-const-parameter): std::atomic_ref<T> needs a non-const T
[[nodiscard]] inline std::uint64_t shm_load(std::uint64_t* word, std::memory_order order) noexcept {
  return std::atomic_ref<std::uint64_t>(*word).load(order);
}

// NOLINTNEXTLINE(readability-non-const-parameter): it is written, through std::atomic_ref
inline void shm_store(std::uint64_t* word, std::uint64_t value, std::memory_order order) noexcept {
  std::atomic_ref<std::uint64_t>(*word).store(value, order);
}

// NOLINTNEXTLINE(readability-non-const-parameter): std::atomic_ref<T> needs a non-const T
[[nodiscard]] inline std::uint32_t shm_load_length(std::byte* record) noexcept {
  return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(record))
      .load(std::memory_order_relaxed);
}

inline void shm_store_length(std::byte* record, std::uint32_t length) noexcept {
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(record))
      .store(length, std::memory_order_relaxed);
}

/// Copies payload bytes to or from shared memory. memcpy: the bytes are opaque, and what a
/// hostile peer does to them during the copy changes only their value. Under ThreadSanitizer
/// the copy is made of relaxed atomic byte accesses instead, so that a test in which a peer
/// thread scribbles on the ring on purpose is not reported as a data race.
inline void shm_copy(std::byte* to, const std::byte* from, std::size_t size) noexcept {
#if defined(SOCKPAIR_SHM_TSAN)
  for (std::size_t i = 0; i < size; ++i) {
    const std::byte b = std::atomic_ref<const std::byte>(from[i]).load(std::memory_order_relaxed);
    std::atomic_ref<std::byte>(to[i]).store(b, std::memory_order_relaxed);
  }
#else
  if (size <= 64) {
    // Small messages, the common case of a message channel: two overlapping copies of a
    // constant size each (inlined moves), instead of a call that must dispatch on the size.
    if (size >= 16) {
      if (size >= 32) {
        std::memcpy(to, from, 32);
        std::memcpy(to + size - 32, from + size - 32, 32);
      } else {
        std::memcpy(to, from, 16);
        std::memcpy(to + size - 16, from + size - 16, 16);
      }
    } else if (size >= 8) {
      std::memcpy(to, from, 8);
      std::memcpy(to + size - 8, from + size - 8, 8);
    } else if (size >= 4) {
      std::memcpy(to, from, 4);
      std::memcpy(to + size - 4, from + size - 4, 4);
    } else if (size != 0) {
      to[0] = from[0];
      to[size / 2] = from[size / 2];
      to[size - 1] = from[size - 1];
    }
    return;
  }
  std::memcpy(to, from, size);
#endif
}

/// One iteration of a spin-wait: tells the CPU (and a hyperthread sibling) that we wait.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// ---- The mapping ------------------------------------------------------------------------------

/// Owns one MAP_SHARED mapping; unmaps it exactly once. Move-only.
class shm_mapping {
 public:
  shm_mapping() noexcept = default;
  shm_mapping(std::byte* base, std::size_t size) noexcept : base_(base), size_(size) {}
  shm_mapping(shm_mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  shm_mapping& operator=(shm_mapping&& other) noexcept {
    if (this != &other) {
      reset();
      base_ = std::exchange(other.base_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  shm_mapping(const shm_mapping&) = delete;
  shm_mapping& operator=(const shm_mapping&) = delete;
  ~shm_mapping() { reset(); }

  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void reset() noexcept {
    if (base_ != nullptr) {
      static_cast<void>(::munmap(base_, size_));
      base_ = nullptr;
      size_ = 0;
    }
  }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

/// mmap(2) of all of `fd`, shared, readable and writable.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<shm_mapping> shm_map(int fd, std::size_t size) noexcept {
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (at == MAP_FAILED) {
    return last_errno_code();
  }
  return shm_mapping(static_cast<std::byte*>(at), size);
}

inline constexpr int shm_required_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

/// A new memfd of `size` bytes (zero-filled), close-on-exec, sealed against shrinking, growing
/// and further sealing.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<unique_fd> shm_create_memfd(std::size_t size) noexcept {
  unique_fd fd(::memfd_create("sockpair-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    return last_errno_code();
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0 ||
      ::fcntl(fd.get(), F_ADD_SEALS, shm_required_seals) != 0) {
    return last_errno_code();  // `fd` closes
  }
  return fd;
}

/// Checks a received region descriptor before it is mapped and returns its size. The order
/// matters: seals can be added but never removed, so once F_SEAL_SHRINK and F_SEAL_GROW are
/// seen the size that fstat(2) reports next can no longer change, and no access within it can
/// raise SIGBUS. Anything else (no memfd, unsealed, a size that is no valid region, a ring
/// larger than `max_ring_size`) is `errc::peer_protocol_violation`.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<std::size_t> shm_check_memfd(int fd, std::size_t max_ring_size) noexcept {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    // EINVAL: not a file that supports seals (no memfd/shmem): the peer's fault.
    return errno == EINVAL ? make_error_code(errc::peer_protocol_violation) : last_errno_code();
  }
  if ((seals & shm_required_seals) != shm_required_seals) {
    return make_error_code(errc::peer_protocol_violation);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return last_errno_code();
  }
  if (!S_ISREG(st.st_mode) || st.st_size < 0) {
    return make_error_code(errc::peer_protocol_violation);
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < shm_region_size(shm_min_ring_size) || size > shm_region_size(max_ring_size)) {
    return make_error_code(errc::peer_protocol_violation);
  }
  const std::uint64_t rings = size - shm_header_size;
  const std::uint64_t ring = rings / 2;
  if (rings % 2 != 0 || (ring & (ring - 1)) != 0) {
    return make_error_code(errc::peer_protocol_violation);
  }
  return static_cast<std::size_t>(size);
}

// ---- Doorbells --------------------------------------------------------------------------------

/// Rings a doorbell: one byte, never blocking. A full socket means the sleeper has bells
/// queued already (success); EPIPE/ECONNRESET mean the peer is gone.
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] result<void> shm_ring(int fd) noexcept {
  const char bell = 1;
  for (;;) {
    if (::send(fd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      return success();
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return success();
    }
    return last_errno_code();
  }
}

/// Swallows every queued bell. True while the peer may still ring; false once it has closed
/// its end (EOF or a reset).
template <class = void>  // instantiated on first use (see detail/io.hpp)
[[nodiscard]] bool shm_drain(int fd) noexcept {
  std::array<char, 64> bells{};
  for (;;) {
    const ssize_t n = ::recv(fd, bells.data(), bells.size(), MSG_DONTWAIT);
    if (n > 0) {
      if (static_cast<std::size_t>(n) < bells.size()) {
        return true;
      }
      continue;
    }
    if (n == 0) {
      return false;
    }
    if (errno == EINTR) {
      continue;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

}  // namespace sockpair::detail
