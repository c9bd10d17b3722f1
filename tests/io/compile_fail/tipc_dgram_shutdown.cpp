// Must not compile: a TIPC dgram or rdm socket cannot shut down (the kernel: ENOTCONN).
#include <socketpair/socketpair.hpp>

void f(sockpair::socket<sockpair::dgram, sockpair::tipc_domain>& s) {
  static_cast<void>(s.shutdown(sockpair::shutdown_how::both));
}
