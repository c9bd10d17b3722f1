// Must not compile: TIPC accepts only SHUT_RDWR (shutdown(SHUT_WR) fails with EINVAL).
#include <socketpair/socketpair.hpp>

void f(sockpair::socket<sockpair::stream, sockpair::tipc_domain>& s) {
  static_cast<void>(s.shutdown(sockpair::shutdown_how::write));
}
