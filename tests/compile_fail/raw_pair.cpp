// Must not compile: socketpair(2) has no raw pairs (Linux would silently make a dgram pair).
#include <socketpair/socket_pair.hpp>

auto make() { return sockpair::socket_pair<sockpair::raw>::create(); }
