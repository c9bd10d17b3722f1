// A program of a project that found socketpair through CMake (or pkg-config): one message
// each way over a seqpacket pair, and the library's version. Exits 0 only if both arrived.
#include <socketpair/socketpair.hpp>

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
  auto [a, b] = std::move(pair).value();
  std::array<char, 16> in{};
  auto sent = a.send(std::string_view("ping"));
  auto got = b.receive(in);
  if (!sent || !got || std::string_view(in.data(), got.value()) != "ping") {
    std::fprintf(stderr, "exchange failed\n");
    return 1;
  }
  std::printf("socketpair %s: \"%.*s\" arrived\n", sockpair::version.string,
              static_cast<int>(got.value()), in.data());
  return 0;
}
