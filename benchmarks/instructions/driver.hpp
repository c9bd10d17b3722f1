// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The loop shared by the instruction-count programs (raw.cpp, sockpair.cpp, asio.cpp).
//
// Each program moves N messages of 64 bytes over a stream pair on one thread: send on one
// end, receive on the other, compare. The calls that move the bytes sit in functions with C
// names, never inlined, so that `valgrind --tool=callgrind --toggle-collect=measured_*`
// counts exactly those calls and nothing of the loop around them:
//
//   measured_send_some / measured_receive_some    one send / one receive call each
//   measured_send_all / measured_receive_exact    calls that loop until every byte moved
//   measured_pass_fds                             one 1-byte message carrying 1 or 16
//                                                 descriptors, sent, received, and what
//                                                 arrived closed (paths that pass descriptors)
//
//   usage: PROGRAM [N=100000] [some|exact|fd1|fd16 (default exact)]
//
// Exit status 0 only when every message arrived intact (and, for fd1/fd16, every received
// descriptor was closed again); 3 when the path cannot pass descriptors, and for the
// asynchronous modes (async, async_fd1: async_driver.hpp's programs).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

// A measured call: C linkage (its name is the same for every compiler), never inlined or
// cloned, so that the count covers the call and everything it runs.
#if defined(__clang__)
#define BENCH_MEASURED extern "C" __attribute__((noinline, used))
#else
#define BENCH_MEASURED extern "C" __attribute__((noinline, noclone, used))
#endif

namespace bench::instructions {

inline constexpr std::size_t message_size = 64;
inline constexpr long default_count = 100000;

/// The most descriptors measured_pass_fds is asked to pass (and the receiver makes room for).
inline constexpr std::size_t max_fds = 16;

/// The measured calls of one path, on its endpoint type.
template <class Endpoint>
struct path {
  const char* name;
  bool (*send_some)(Endpoint&, const std::byte*, std::size_t);
  bool (*receive_some)(Endpoint&, std::byte*, std::size_t);
  bool (*send_all)(Endpoint&, const std::byte*, std::size_t);
  bool (*receive_exact)(Endpoint&, std::byte*, std::size_t);
  /// Sends one byte with `fds` from `sender`, receives it at `receiver`, closes what
  /// arrived; true when the byte and `fds.size()` descriptors arrived. May be null. (The
  /// descriptors come as a program holds them, in an array built once: as in the timed suite.)
  bool (*pass_fds)(Endpoint& sender, Endpoint& receiver, std::span<const int> fds) = nullptr;
};

/// Mode fd1/fd16: N messages with descriptors. The lowest free descriptor must be the same
/// afterwards, or some received descriptor was not closed.
template <class Endpoint>
int drive_fds(long count, std::size_t fds, const path<Endpoint>& calls, Endpoint& sender,
              Endpoint& receiver) {
  if (calls.pass_fds == nullptr) {
    std::fprintf(stderr, "%s: this path cannot pass descriptors\n", calls.name);
    return 3;
  }
  const int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int lowest_free = ::dup(passed);
  ::close(lowest_free);
  std::array<int, max_fds> copies{};
  copies.fill(passed);
  const std::span<const int> sent(copies.data(), fds);
  for (long i = 0; i < count; ++i) {
    if (!calls.pass_fds(sender, receiver, sent)) {
      std::fprintf(stderr, "%s: message %ld or its %zu descriptors lost\n", calls.name, i, fds);
      return 1;
    }
  }
  const int probe = ::dup(passed);
  ::close(probe);
  ::close(passed);
  if (probe != lowest_free) {
    std::fprintf(stderr, "%s: received descriptors were left open\n", calls.name);
    return 1;
  }
  std::printf("%s: %ld messages of 1 byte with %zu descriptors verified (fd%zu)\n", calls.name,
              count, fds, fds);
  return 0;
}

template <class Endpoint>
int drive(int argc, char** argv, const path<Endpoint>& calls, Endpoint& sender,
          Endpoint& receiver) {
  const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : default_count;
  const std::string_view mode = argc > 2 ? argv[2] : "exact";
  if (mode.starts_with("async")) {
    std::fprintf(stderr, "%s: cannot run the asynchronous mode %s\n", calls.name, argv[2]);
    return 3;
  }
  if (mode == "fd1" || mode == "fd16") {
    return count < 0 ? 2 : drive_fds(count, mode == "fd1" ? 1 : max_fds, calls, sender, receiver);
  }
  if (count < 0 || (mode != "some" && mode != "exact")) {
    std::fprintf(stderr, "usage: %s [N] [some|exact|fd1|fd16]\n", argv[0]);
    return 2;
  }
  const bool exact = mode == "exact";
  std::array<std::byte, message_size> out{};
  std::array<std::byte, message_size> in{};
  for (std::size_t i = 0; i < message_size; ++i) {
    out[i] = static_cast<std::byte>(i * 7 + 1);
  }
  for (long i = 0; i < count; ++i) {
    std::memcpy(out.data(), &i, sizeof i);
    in.fill(std::byte{0});
    const bool sent = exact ? calls.send_all(sender, out.data(), out.size())
                            : calls.send_some(sender, out.data(), out.size());
    const bool received = exact ? calls.receive_exact(receiver, in.data(), in.size())
                                : calls.receive_some(receiver, in.data(), in.size());
    if (!sent || !received || in != out) {
      std::fprintf(stderr, "%s: message %ld lost or corrupted (%s)\n", calls.name, i,
                   exact ? "exact" : "some");
      return 1;
    }
  }
  std::printf("%s: %ld messages of %zu bytes verified (%s)\n", calls.name, count, message_size,
              exact ? "send_all/receive_exact" : "one send/receive call each");
  return 0;
}

}  // namespace bench::instructions
