// Must not compile: the message would land in a vector that dies at the semicolon.
#include <socketpair/socketpair.hpp>

#include <cstddef>
#include <vector>

void f(sockpair::socket<sockpair::seqpacket>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  std::vector<std::byte> buffer(64);
  static_cast<void>(s.receive_message(buffer));
  static_cast<void>(s.peek(buffer));
#else
  static_cast<void>(s.receive_message(std::vector<std::byte>(64)));
#endif
}
