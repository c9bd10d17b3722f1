// Must not compile: AF_UNIX has no SOCK_RDM.
#include <socketpair/socket_pair.hpp>

auto make() { return sockpair::socket_pair<sockpair::rdm>::create(); }
