// Must not compile: a progress counter passed beside the buffer (`send_all(data, done)`) lets
// one message's progress be reused for another ("first-" then "second-message" with the same
// counter arrived as "first--message"). Progress lives in a transfer bound to its bytes.
#include <socketpair/socketpair.hpp>

#include <cstddef>
#include <string_view>

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  sockpair::outgoing first(std::string_view("first-"));
  static_cast<void>(s.send_all(first));
  sockpair::outgoing second(std::string_view("second-message"));
  static_cast<void>(s.send_all(second));
#else
  std::size_t done = 0;
  static_cast<void>(s.send_all(std::string_view("first-"), done));
  static_cast<void>(s.send_all(std::string_view("second-message"), done));
#endif
}
