// Support for the I/O tests: pair creation that skips where the kernel lacks a domain,
// deterministic payloads with checksums, and running a body in a forked child.
#pragma once

#include <socketpair/socketpair.hpp>

#include "tests/support/environment.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sockpair::testing {

// Every socket type the library pairs: AF_UNIX's three and TIPC's four. The TIPC ones skip
// where the kernel has no tipc module (socketpair(2) fails with EAFNOSUPPORT), and fail
// instead under tools/vm (SOCKPAIR_REQUIRE_TIPC), whose kernels load it.
using all_pair_types =
    ::testing::Types<socket_pair<stream>, socket_pair<seqpacket>, socket_pair<dgram>,
                     socket_pair<stream, tipc_domain>, socket_pair<seqpacket, tipc_domain>,
                     socket_pair<dgram, tipc_domain>, socket_pair<rdm, tipc_domain>>;

using message_pair_types =
    ::testing::Types<socket_pair<seqpacket>, socket_pair<dgram>,
                     socket_pair<seqpacket, tipc_domain>, socket_pair<dgram, tipc_domain>,
                     socket_pair<rdm, tipc_domain>>;

/// True for a TIPC pair: where TIPC's semantics differ from AF_UNIX's (docs/io.md, "TIPC").
template <class Pair>
inline constexpr bool is_tipc = std::same_as<typename Pair::end_type::domain, tipc_domain>;

/// True for TIPC's dgram and rdm: no flow control, so a sender that outruns its receiver
/// loses messages (docs/io.md, TIPC). Tests that stream many messages pace these.
template <class Pair>
inline constexpr bool is_unpaced = is_tipc<Pair> &&
                                   (std::same_as<typename Pair::end_type::type, dgram> ||
                                    std::same_as<typename Pair::end_type::type, rdm>);

using unix_pair_types =
    ::testing::Types<socket_pair<stream>, socket_pair<seqpacket>, socket_pair<dgram>>;

using unix_message_pair_types = ::testing::Types<socket_pair<seqpacket>, socket_pair<dgram>>;

// Readable names for typed tests: "unix_stream", "tipc_rdm", ...
struct pair_type_names {
  template <class Pair>
  static std::string GetName(int) {
    using type = typename Pair::end_type::type;
    std::string name =
        std::same_as<typename Pair::end_type::domain, tipc_domain> ? "tipc_" : "unix_";
    if constexpr (std::same_as<type, stream>) {
      return name + "stream";
    } else if constexpr (std::same_as<type, seqpacket>) {
      return name + "seqpacket";
    } else if constexpr (std::same_as<type, dgram>) {
      return name + "dgram";
    } else {
      return name + "rdm";
    }
  }
};

// `auto [a, b] = ...` from Pair::create(options), or skips the test where the domain is
// missing (EAFNOSUPPORT; a failure instead where SOCKPAIR_REQUIRE_TIPC is set), or fails it.
#define SOCKPAIR_CREATE_OR_SKIP(name, Pair, ...)                                              \
  auto name##_created = Pair::create(__VA_ARGS__);                                            \
  if (!name##_created && name##_created.error() == std::errc::address_family_not_supported) { \
    if (::sockpair::testing::tipc_required()) {                                               \
      FAIL() << "EAFNOSUPPORT where SOCKPAIR_REQUIRE_TIPC is set: the tipc module must work"; \
    }                                                                                         \
    GTEST_SKIP() << "this kernel cannot make the pair (EAFNOSUPPORT: no tipc module)";        \
  }                                                                                           \
  ASSERT_TRUE(name##_created) << name##_created.error().message();                            \
  auto name = std::move(name##_created).value()

// ---- Payloads -----------------------------------------------------------------------------

// Byte `i` of the payload stream `seed`: any offset can be checked without keeping the data.
inline std::byte pattern_byte(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + (i / 8 + 1) * 0x9E3779B97F4A7C15ull;  // splitmix64 of the word
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<std::byte>(z >> ((i % 8) * 8));
}

inline std::vector<std::byte> pattern(std::uint64_t seed, std::size_t size,
                                      std::uint64_t offset = 0) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = pattern_byte(seed, offset + i);
  }
  return bytes;
}

// FNV-1a, 64 bits, resumable.
struct checksum {
  std::uint64_t value = 0xcbf29ce484222325ull;
  std::uint64_t bytes = 0;

  void add(std::span<const std::byte> data) {
    for (const std::byte b : data) {
      value = (value ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ull;
    }
    bytes += data.size();
  }
  friend bool operator==(const checksum&, const checksum&) = default;
};

inline checksum checksum_of(std::span<const std::byte> data) {
  checksum c;
  c.add(data);
  return c;
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string as_string(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// ---- Children -----------------------------------------------------------------------------

// A forked child running a body that returns "ok" or what went wrong.
class child_process {
 public:
  // Forks; the child runs `body()`, writes its verdict to a pipe and _exits. Call only while
  // this process has one thread (fork copies just the calling thread).
  template <class Body>
  static child_process start(Body body) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      std::abort();
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::abort();
    }
    if (pid == 0) {
      ::close(report[0]);
      const std::string verdict = body();
      std::size_t written = 0;
      while (written < verdict.size()) {
        const ssize_t n = ::write(report[1], verdict.data() + written, verdict.size() - written);
        if (n <= 0) {
          break;
        }
        written += static_cast<std::size_t>(n);
      }
      ::_exit(0);
    }
    ::close(report[1]);
    return child_process(pid, report[0]);
  }

  child_process(child_process&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), report_(std::exchange(other.report_, -1)) {}
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      static_cast<void>(wait());
    }
  }

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Waits for the child: its verdict ("ok"), or how it died.
  std::string wait() {
    std::string verdict;
    std::array<char, 256> buffer{};
    ssize_t got = 0;
    while ((got = ::read(report_, buffer.data(), buffer.size())) != 0) {
      if (got < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      verdict.append(buffer.data(), static_cast<std::size_t>(got));
    }
    ::close(report_);
    report_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    last_status_ = status;
    if (WIFSIGNALED(status)) {
      // sigdescr_np, not strsignal: the text is constant, so safe from any thread.
      const char* description = ::sigdescr_np(WTERMSIG(status));
      return "child killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
             (description != nullptr ? description : "unknown") + "); said: " + verdict;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return "child exited with status " + std::to_string(WEXITSTATUS(status)) + ": " + verdict;
    }
    return verdict;
  }

  [[nodiscard]] int status() const { return last_status_; }

 private:
  child_process(pid_t pid, int report) : pid_(pid), report_(report) {}

  pid_t pid_ = -1;
  int report_ = -1;
  int last_status_ = 0;
};

}  // namespace sockpair::testing
