// Must not compile: a transfer that dies at the end of the statement takes its progress with
// it, so a failed receive_exact could not be resumed and its byte count would be lost.
#include <socketpair/socketpair.hpp>

#include <array>
#include <cstddef>

void f(sockpair::socket<sockpair::stream>& s) {
  std::array<std::byte, 8> buffer{};
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  sockpair::incoming in(buffer);
  static_cast<void>(s.receive_exact(in));
  static_cast<void>(s.receive_exact(buffer));  // the one-shot form takes the buffer itself
#else
  static_cast<void>(s.receive_exact(sockpair::incoming(buffer)));
#endif
}
