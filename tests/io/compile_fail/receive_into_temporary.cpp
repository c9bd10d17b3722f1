// Must not compile: the bytes would be received into a string that dies at the semicolon.
#include <socketpair/socketpair.hpp>

#include <span>
#include <string>

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  std::string buffer(64, '\0');
  static_cast<void>(s.receive(buffer));                   // a named buffer
  static_cast<void>(s.receive(std::span<char>(buffer)));  // a view of one
#else
  static_cast<void>(s.receive(std::string(64, '\0')));
#endif
}
