// Must not compile: send_all loops over short counts, which message sockets never return;
// a message is sent whole with send().
#include <socketpair/socketpair.hpp>

#include <string_view>

void f(sockpair::socket<sockpair::seqpacket>& s) {
  static_cast<void>(s.send_all(std::string_view("message")));
}
