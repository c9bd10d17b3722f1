// Must not compile: receive_exact would fill a vector that dies at the semicolon.
#include <socketpair/socketpair.hpp>

#include <vector>

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  std::vector<char> buffer(4);
  static_cast<void>(s.receive_exact(buffer));
#else
  static_cast<void>(s.receive_exact(std::vector<char>(4)));
#endif
}
