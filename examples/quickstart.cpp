// The README's example: a parent and a forked child talk over a seqpacket pair.
#include <socketpair/socketpair.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string_view>
#include <utility>

int main() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [parent, child] = std::move(pair).value();
  if (::fork() == 0) {  // the child keeps its end and answers one message
    static_cast<void>(parent.close());
    std::array<char, 64> request{};
    auto got = child.receive(request);  // one whole message, or an error
    ::_exit(got && child.send(std::string_view("pong")) ? 0 : 1);
  }
  static_cast<void>(child.close());
  std::array<char, 64> reply{};
  auto sent = parent.send(std::string_view("ping"));
  auto got = parent.receive(reply);
  ::wait(nullptr);
  if (!sent || !got) {
    std::fprintf(stderr, "exchange failed: %s\n",
                 (!sent ? sent.error() : got.error()).message().c_str());
    return 1;
  }
  std::printf("parent got %zu bytes: %.*s\n", got.value(), static_cast<int>(got.value()),
              reply.data());
  return std::string_view(reply.data(), got.value()) == "pong" ? 0 : 1;
}
