// Must not compile: the message's bytes would land in a string that dies at the semicolon,
// while its descriptors survive.
#include <socketpair/ancillary.hpp>

#include <string>

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  std::string buffer(8, '\0');
  static_cast<void>(sockpair::receive_with_fds<1>(s, buffer));
#else
  static_cast<void>(sockpair::receive_with_fds<1>(s, std::string(8, '\0')));
#endif
}
