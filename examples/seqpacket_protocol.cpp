// A message protocol over a seqpacket pair: no length prefixes, no parsing of a byte stream.
//
// Each send is one message and each receive returns exactly one message, never part of one
// and never two run together. An empty message is a message, distinct from the end of the
// stream. A reply longer than the receive buffer is reported as truncated, with its real size
// (on Linux), instead of being cut silently.
//
// A forked server answers every request with "len=<size of the request>", a "big" request
// with a 200-byte reply, and stops at the end of the stream. Exits 0 only if every reply was
// what the protocol says and the server exited 0.
#include <socketpair/socket_pair.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using message_end = sockpair::socket<sockpair::seqpacket>;

constexpr std::size_t big_reply_size = 200;

int serve(message_end& sock) {
  std::vector<char> request(std::size_t{64} * 1024);
  for (;;) {
    auto got = sock.receive_message(request);
    if (!got) {
      std::fprintf(stderr, "server: receive: %s\n", got.error().message().c_str());
      return 1;
    }
    // Checked above, so assume_value(): value() would check again (and could throw).
    if (got.assume_value().end_of_stream) {
      return 0;  // the client shut down its writing side: not an empty message
    }
    const std::string_view text(request.data(), got.assume_value().stored);
    const std::string reply = text == "big" ? std::string(big_reply_size, 'b')
                                            : "len=" + std::to_string(got.assume_value().size);
    if (auto sent = sock.send(reply); !sent) {
      std::fprintf(stderr, "server: send: %s\n", sent.error().message().c_str());
      return 1;
    }
  }
}

}  // namespace

int main() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [client, server] = std::move(pair).assume_value();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    static_cast<void>(client.close());
    ::_exit(serve(server));
  }
  static_cast<void>(server.close());

  int failures = 0;
  auto expect = [&failures](bool ok, const char* what) {
    std::printf("%-55s %s\n", what, ok ? "ok" : "FAILED");
    failures += ok ? 0 : 1;
  };

  // Three sends in a row, before reading any reply: three messages, three replies, in order.
  const std::string blob(1000, '\x7f');
  for (const std::string_view request :
       {std::string_view("hello"), std::string_view(), std::string_view(blob)}) {
    if (auto sent = client.send(request); !sent) {
      std::fprintf(stderr, "send: %s\n", sent.error().message().c_str());
      return 1;
    }
  }
  std::array<char, 64> reply{};
  for (const std::string_view expected : {"len=5", "len=0", "len=1000"}) {
    auto got = client.receive_message(reply);
    const bool ok = got && !got.assume_value().end_of_stream && !got.assume_value().truncated() &&
                    std::string_view(reply.data(), got.assume_value().stored) == expected;
    const std::string what = "reply \"" + std::string(expected) + "\", alone in its message";
    expect(ok, what.c_str());
  }

  // A reply bigger than the buffer: the head is kept, the message reported as truncated.
  if (auto sent = client.send(std::string_view("big")); !sent) {
    std::fprintf(stderr, "send: %s\n", sent.error().message().c_str());
    return 1;
  }
  auto big = client.receive_message(reply);
  expect(big && big.assume_value().truncated() && big.assume_value().stored == reply.size() &&
             big.assume_value().size >= reply.size(),
         "200-byte reply into 64 bytes: reported as truncated");
  if (big) {
    std::printf("  kept %zu bytes; the message had %zu (exact on Linux)\n",
                big.assume_value().stored, big.assume_value().size);
  }

  // The end of the conversation: the server sees end_of_stream and exits 0.
  static_cast<void>(client.shutdown(sockpair::shutdown_how::write));
  auto last = client.receive_message(reply);
  expect(last && last.assume_value().end_of_stream, "server closed: end of stream, not a message");
  int status = 0;
  expect(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
         "server exited 0");
  return failures == 0 ? 0 : 1;
}
