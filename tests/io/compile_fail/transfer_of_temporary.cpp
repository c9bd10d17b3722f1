// Must not compile: a transfer into a temporary container would fill storage that dies at
// the end of the statement, as `receive(std::string(64, '\0'))` would.
#include <socketpair/socketpair.hpp>

#include <cstddef>
#include <span>
#include <vector>

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  std::vector<std::byte> buffer(4);
  sockpair::incoming in(buffer);
  sockpair::incoming view{std::span<std::byte>(buffer)};  // a view borrows: fine
  static_cast<void>(s.receive_exact(in));
  static_cast<void>(s.receive_exact(view));
#else
  sockpair::incoming in(std::vector<std::byte>(4));
  static_cast<void>(s.receive_exact(in));
#endif
}
