// A parent and a forked child talk request/reply over a stream pair.
//
// A stream has no message boundaries, so each message carries its length: a 4-byte
// little-endian prefix, then the bytes. `send_all` writes a whole message however the kernel
// splits it; `receive_exact` reads exactly the prefix, then exactly the body. The child
// answers each request with the text reversed, and stops at the end of the stream: the
// parent shuts down its writing side when it has no more requests.
//
// Exits 0 only if every reply was right and the child exited 0.
#include <socketpair/socket_pair.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace {

using stream_end = sockpair::socket<sockpair::stream>;

/// Sends one length-prefixed message.
sockpair::result<void> send_message(stream_end& sock, std::string_view text) {
  const auto size = static_cast<std::uint32_t>(text.size());
  const std::array<unsigned char, 4> prefix = {
      static_cast<unsigned char>(size), static_cast<unsigned char>(size >> 8U),
      static_cast<unsigned char>(size >> 16U), static_cast<unsigned char>(size >> 24U)};
  BOOST_OUTCOME_TRY(sock.send_all(prefix));
  BOOST_OUTCOME_TRY(sock.send_all(text));
  return sockpair::success();
}

/// Receives one length-prefixed message. The end of the stream before the first byte of a
/// prefix is the peer's orderly end: the call fails with `errc::unexpected_eof` and sets
/// `clean_end`. An end anywhere else is an error (a message cut short).
sockpair::result<std::string> receive_message(stream_end& sock, bool& clean_end) {
  clean_end = false;
  std::array<unsigned char, 4> prefix{};
  sockpair::incoming in(prefix);
  if (auto got = sock.receive_exact(in); !got) {
    clean_end = got.error() == sockpair::errc::unexpected_eof && in.done() == 0;
    return got.error();
  }
  std::uint32_t size = 0;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    size |= static_cast<std::uint32_t>(prefix[i]) << (8U * i);
  }
  std::string text(size, '\0');
  BOOST_OUTCOME_TRY(sock.receive_exact(text));
  return text;
}

/// The child's loop: reverse every request until the parent stops.
int serve(stream_end& sock) {
  for (;;) {
    bool clean_end = false;
    auto request = receive_message(sock, clean_end);
    if (!request) {
      if (clean_end) {
        return 0;
      }
      std::fprintf(stderr, "child: receive: %s\n", request.error().message().c_str());
      return 1;
    }
    const std::string reply(request.value().rbegin(), request.value().rend());
    if (auto sent = send_message(sock, reply); !sent) {
      std::fprintf(stderr, "child: send: %s\n", sent.error().message().c_str());
      return 1;
    }
  }
}

}  // namespace

int main() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [parent, child] = std::move(pair).value();

  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    static_cast<void>(parent.close());  // the child keeps only its own end
    ::_exit(serve(child));
  }
  static_cast<void>(child.close());  // else the parent's copy would hide the child's exit

  // A large request too: send_all and receive_exact loop over the kernel's short counts.
  const std::array<std::string, 4> requests = {"hello", "", "socketpair",
                                               std::string(300'000, 'x') + "end"};
  int failures = 0;
  for (const std::string& request : requests) {
    if (auto sent = send_message(parent, request); !sent) {
      std::fprintf(stderr, "parent: send: %s\n", sent.error().message().c_str());
      ++failures;
      break;
    }
    bool clean_end = false;
    auto reply = receive_message(parent, clean_end);
    const std::string expected(request.rbegin(), request.rend());
    if (!reply || reply.value() != expected) {
      std::fprintf(stderr, "parent: wrong reply to a %zu-byte request\n", request.size());
      ++failures;
      break;
    }
    std::printf("request of %zu bytes: reply reversed, %zu bytes\n", request.size(),
                reply.value().size());
  }

  // No more requests: the child sees the end of the stream and exits 0.
  if (auto shut = parent.shutdown(sockpair::shutdown_how::write); !shut) {
    std::fprintf(stderr, "parent: shutdown: %s\n", shut.error().message().c_str());
    ++failures;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "parent: the child did not exit cleanly\n");
    ++failures;
  }
  std::printf("%s\n", failures == 0 ? "all replies right" : "FAILED");
  return failures == 0 ? 0 : 1;
}
