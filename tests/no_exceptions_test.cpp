// Built with -fno-exceptions -fno-rtti: the library must need neither. Exits non-zero on the
// first failed check (GoogleTest is left out so that nothing else needs exceptions).
#include <socketpair/socketpair.hpp>

#include <sys/socket.h>

#include <cstdio>
#include <utility>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  check(static_cast<bool>(pair), "create() succeeds");
  if (!pair) {
    return 1;
  }
  auto [a, b] = std::move(pair).value();
  const char out = 'x';
  char in = 0;
  check(::send(a.native_handle(), &out, 1, MSG_NOSIGNAL) == 1, "send one byte");
  check(::recv(b.native_handle(), &in, 1, 0) == 1 && in == 'x', "receive it");

  auto bad = sockpair::socket_pair<sockpair::stream>::create({.protocol = 99});
  check(!bad && bad.error() == std::errc::protocol_not_supported, "errors without throwing");
  check(a.close().has_value(), "close() reports success");
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
