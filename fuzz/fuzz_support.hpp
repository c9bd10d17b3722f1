// What the fuzz targets (receive_fuzzer.cpp, shm_fuzzer.cpp) share: how an invariant
// violation ends the run, the process's descriptor count, and the reader of the input script.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace sockpair::fuzzing {

/// Prints `<program>: invariant violated: what (detail)` and aborts, which libFuzzer (or the
/// corpus driver's test) reports as a crash with this input.
[[noreturn]] inline void violated(const char* what, long detail = 0) {
  std::fprintf(stderr, "%s: invariant violated: %s (%ld)\n", program_invocation_short_name, what,
               detail);
  std::abort();
}

/// `violated(what, detail)` unless `ok`.
inline void require(bool ok, const char* what, long detail = 0) {
  if (!ok) {
    violated(what, detail);
  }
}

/// How many descriptors this process has open (the entries of /proc/self/fd, less the one
/// that reading the directory opens). Aborts if /proc/self/fd cannot be read.
inline int count_open_fds() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  require(dir != nullptr, "opendir /proc/self/fd");
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR stream is used by this thread only
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  ::closedir(dir);
  return count - 1;  // the directory's own descriptor
}

/// Reads operands from the input, little-endian; past the end every read is 0 (and `take`
/// returns fewer bytes, none at the end).
class script {
 public:
  explicit script(std::span<const std::uint8_t> data) : data_(data) {}
  [[nodiscard]] bool done() const { return at_ >= data_.size(); }
  std::uint8_t u8() { return at_ < data_.size() ? data_[at_++] : 0; }
  std::uint16_t u16() {
    const std::uint16_t low = u8();
    return static_cast<std::uint16_t>(low | (u8() << 8));
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<std::uint64_t>(u8()) << (8 * i);
    }
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, data_.size() - std::min(at_, data_.size()));
    auto out = data_.subspan(at_, n);
    at_ += n;
    return out;
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t at_ = 0;
};

}  // namespace sockpair::fuzzing
