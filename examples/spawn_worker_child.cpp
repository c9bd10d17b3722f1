// The worker that examples/spawn_worker.cpp starts: it adopts the seqpacket end whose number
// is its first argument and answers "ping N" with "pong N" until the end of the stream.
//
// Usage: spawn_worker_child FD PARENT_FD. PARENT_FD is the parent's own end, which must not
// have been inherited: the worker fails if it is open.
#include <socketpair/socket.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace {

/// The descriptor number in `text`, or -1.
int parse_fd(std::string_view text) {
  int fd = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fd);
  return error == std::errc() && end == text.data() + text.size() ? fd : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || parse_fd(argv[1]) < 0 || parse_fd(argv[2]) < 0) {
    std::fprintf(stderr, "usage: spawn_worker_child FD PARENT_FD\n");
    return 2;
  }
  // Close-on-exec held: the parent's end did not cross the exec.
  if (::fcntl(parse_fd(argv[2]), F_GETFD) != -1 || errno != EBADF) {
    std::fprintf(stderr, "worker: the parent's end (fd %s) leaked into the worker\n", argv[2]);
    return 3;
  }

  // Take ownership, checking that the number really names a seqpacket AF_UNIX socket.
  auto adopted =
      sockpair::socket<sockpair::seqpacket>::adopt(sockpair::unique_fd(parse_fd(argv[1])));
  if (!adopted) {
    std::fprintf(stderr, "worker: adopt fd %s: %s\n", argv[1], adopted.error().message().c_str());
    return 1;
  }
  // Checked above, so assume_value(): value() would check again (and could throw).
  sockpair::socket<sockpair::seqpacket> sock = std::move(adopted).assume_value();
  // Any program this worker starts must not inherit the channel in turn.
  if (auto cloexec = sock.set_cloexec(true); !cloexec) {
    std::fprintf(stderr, "worker: set_cloexec: %s\n", cloexec.error().message().c_str());
    return 1;
  }

  for (;;) {
    std::array<char, 64> request{};
    auto got = sock.receive_message(request);
    if (!got) {
      std::fprintf(stderr, "worker: receive: %s\n", got.error().message().c_str());
      return 1;
    }
    if (got.assume_value().end_of_stream) {
      return 0;  // the parent is done
    }
    const std::string_view text(request.data(), got.assume_value().stored);
    if (got.assume_value().truncated() || !text.starts_with("ping ")) {
      std::fprintf(stderr, "worker: unexpected request\n");
      return 1;
    }
    const std::string reply = "pong " + std::string(text.substr(5));
    if (auto sent = sock.send(reply); !sent) {
      std::fprintf(stderr, "worker: send: %s\n", sent.error().message().c_str());
      return 1;
    }
  }
}
