// Must not compile: a span of a temporary vector dangles once the statement ends (ASan found a
// heap-use-after-free in send before this was refused).
#include <socketpair/socketpair.hpp>

#include <span>
#include <string_view>
#include <vector>

std::vector<char> make_vector() { return {'a', 'b'}; }

void f(sockpair::socket<sockpair::stream>& s) {
#if defined(SOCKPAIR_POSITIVE_CONTROL)
  const std::vector<char> data = make_vector();
  const std::span<const std::byte> bytes = sockpair::bytes_of(data);
  const std::span<const std::byte> view = sockpair::bytes_of(std::string_view("ab"));
  static_cast<void>(s.send(bytes));
  static_cast<void>(s.send(view));
  static_cast<void>(s.send(make_vector()));  // sending from a temporary is fine
#else
  const std::span<const std::byte> bytes = sockpair::bytes_of(make_vector());
  static_cast<void>(s.send(bytes));
#endif
}
