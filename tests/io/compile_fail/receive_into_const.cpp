// Must not compile: receiving needs writable bytes; a const std::string is not.
#include <socketpair/socketpair.hpp>

#include <string>

void f(sockpair::socket<sockpair::stream>& s, const std::string& text) {
  static_cast<void>(s.receive(text));
}
