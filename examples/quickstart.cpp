// The README's example: a parent and a forked child talk over a seqpacket pair.
#include <socketpair/socketpair.hpp>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <utility>

int main() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [parent, child] = std::move(pair).value();
  if (::fork() == 0) {  // the child keeps its end, drops the parent's
    static_cast<void>(parent.close());
    static_cast<void>(::send(child.native_handle(), "hello", 5, MSG_NOSIGNAL));
    ::_exit(0);
  }
  static_cast<void>(child.close());
  std::array<char, 16> message{};
  const ssize_t n = ::recv(parent.native_handle(), message.data(), message.size(), 0);
  ::wait(nullptr);
  std::printf("parent got %zd bytes: %.*s\n", n, static_cast<int>(n), message.data());
  return n == 5 ? 0 : 1;
}
