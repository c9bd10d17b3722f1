// Must not compile: a stream has no messages.
#include <socketpair/socketpair.hpp>

#include <array>
#include <cstddef>

void f(sockpair::socket<sockpair::stream>& s) {
  std::array<std::byte, 8> buffer{};
  static_cast<void>(s.receive_message(buffer));
}
