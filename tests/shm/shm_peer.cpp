// The far end of shm_process_test's exec case: a program of its own, started with posix_spawn.
//
// Usage: shm_peer FD ROLE
//   FD    an AF_UNIX stream end it inherited (close-on-exec cleared for it alone)
//   ROLE  "accept": accept the channel on FD; "create": create it
// It then echoes every message back until the end of the stream, and exits 0; any failure
// exits non-zero with a line on stderr.
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/unique_fd.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

int fail(const char* what, const std::error_code& e) {
  std::fprintf(stderr, "shm_peer: %s: %s\n", what, e.message().c_str());
  return 1;
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): std::vector and message() may throw bad_alloc
int main(int argc, char** argv) {
  int fd = -1;
  if (argc != 3 || std::from_chars(argv[1], argv[1] + std::strlen(argv[1]), fd).ec != std::errc()) {
    std::fprintf(stderr, "usage: shm_peer FD accept|create\n");
    return 2;
  }
  auto sock = sockpair::socket<sockpair::stream>::adopt(sockpair::unique_fd(fd));
  if (!sock) {
    return fail("adopt", sock.error());
  }
  const bool create = std::string_view(argv[2]) == "create";
  auto made =
      create ? sockpair::shm_channel::create(std::move(sock).value())
             : sockpair::shm_channel::accept(std::move(sock).value(), {}, std::chrono::seconds(60));
  if (!made) {
    return fail(create ? "create" : "accept", made.error());
  }
  sockpair::shm_channel& channel = made.value();
  std::vector<std::byte> buffer(channel.max_message_size());
  for (;;) {
    auto got = channel.receive(buffer, std::chrono::seconds(60));
    if (!got) {
      return fail("receive", got.error());
    }
    if (!got.value()) {
      return 0;  // the end of the stream
    }
    auto sent = channel.send(std::span(buffer).first(*got.value()), std::chrono::seconds(60));
    if (!sent) {
      return fail("send", sent.error());
    }
  }
}
