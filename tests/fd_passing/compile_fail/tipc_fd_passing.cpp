// Must not compile: only AF_UNIX passes descriptors (TIPC has no SCM_RIGHTS).
#include <socketpair/ancillary.hpp>

auto pass(sockpair::socket<sockpair::seqpacket, sockpair::tipc_domain>& sock, int fd) {
  return sockpair::send_with_fds(sock, {}, {fd});
}
