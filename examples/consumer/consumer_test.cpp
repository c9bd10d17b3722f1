// Compiled in a separate workspace: proves <socketpair/...> resolves through
// @socketpair//socketpair, and that a pair works end to end.
#include <socketpair/socketpair.hpp>

#include <sys/socket.h>

#include <cstdio>
#include <utility>

int main() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    std::fprintf(stderr, "FAIL: create: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [a, b] = std::move(pair).value();
  char byte = 0;
  if (::send(a.native_handle(), "!", 1, MSG_NOSIGNAL) != 1 ||
      ::recv(b.native_handle(), &byte, 1, 0) != 1 || byte != '!') {
    std::fprintf(stderr, "FAIL: the byte did not arrive\n");
    return 1;
  }
  std::puts("PASS: consumer workspace built against @socketpair//socketpair");
  return 0;
}
