// What socketpair(2) can pair is decided at compile time; these pin the decision down.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string_view>
#include <type_traits>

namespace {

using sockpair::dgram;
using sockpair::message_socket_type;
using sockpair::pairable;
using sockpair::raw;
using sockpair::rdm;
using sockpair::seqpacket;
using sockpair::socket_domain;
using sockpair::socket_pair;
using sockpair::socket_type;
using sockpair::stream;
using sockpair::tipc_domain;
using sockpair::unix_domain;

// AF_UNIX: stream, dgram and seqpacket.
static_assert(pairable<unix_domain, stream>);
static_assert(pairable<unix_domain, dgram>);
static_assert(pairable<unix_domain, seqpacket>);
static_assert(!pairable<unix_domain, rdm>, "AF_UNIX has no SOCK_RDM");
static_assert(!pairable<unix_domain, raw>, "Linux would silently make a dgram pair");

// AF_TIPC (Linux >= 4.12): stream, dgram, seqpacket and rdm.
static_assert(pairable<tipc_domain, stream>);
static_assert(pairable<tipc_domain, dgram>);
static_assert(pairable<tipc_domain, seqpacket>);
static_assert(pairable<tipc_domain, rdm>);
static_assert(!pairable<tipc_domain, raw>);

// Only the library's tags are domains and types.
static_assert(!pairable<int, stream>);
static_assert(!pairable<unix_domain, int>);
static_assert(!socket_type<unix_domain>);
static_assert(!socket_domain<stream>);

// Which types keep message boundaries.
static_assert(!message_socket_type<stream>);
static_assert(message_socket_type<dgram>);
static_assert(message_socket_type<seqpacket>);
static_assert(message_socket_type<rdm>);

// The default domain is AF_UNIX, and the tags carry the kernel's constants.
static_assert(std::is_same_v<socket_pair<stream>, socket_pair<stream, unix_domain>>);
static_assert(std::is_same_v<sockpair::socket<dgram>::domain, unix_domain>);
static_assert(stream::value == SOCK_STREAM && dgram::value == SOCK_DGRAM &&
              seqpacket::value == SOCK_SEQPACKET && rdm::value == SOCK_RDM);
static_assert(unix_domain::value == AF_UNIX && tipc_domain::value == AF_TIPC);

// Sockets are move-only.
static_assert(!std::is_copy_constructible_v<sockpair::socket<stream>>);
static_assert(std::is_nothrow_move_constructible_v<sockpair::socket<stream>>);
static_assert(std::is_nothrow_move_assignable_v<sockpair::socket<seqpacket>>);
static_assert(!std::is_copy_constructible_v<socket_pair<dgram>>);

// A function can demand "any pairable combination" and be refused the rest.
template <class Domain, class Type>
constexpr bool accepted_by_constrained_function = requires {
  requires pairable<Domain, Type>;
};
static_assert(accepted_by_constrained_function<unix_domain, seqpacket>);
static_assert(!accepted_by_constrained_function<unix_domain, raw>);

// Generic code can ask whether a pair, an end or an ancillary call exists, and gets `false`
// for what the kernel cannot do instead of a hard error inside its query.
template <class Type, class Domain = unix_domain>
concept creatable = requires {
  socket_pair<Type, Domain>::create();
};
static_assert(creatable<stream>);
static_assert(creatable<rdm, tipc_domain>);
static_assert(!creatable<raw>);
static_assert(!creatable<rdm>);

template <class Type>
concept default_constructible_end = std::is_default_constructible_v<sockpair::socket<Type>>;
static_assert(default_constructible_end<dgram>);
static_assert(!default_constructible_end<raw>);

template <class Domain>
concept passes_descriptors = requires(sockpair::socket<seqpacket, Domain>& s, int fd) {
  sockpair::send_with_fds(s, std::string_view("x"), {fd});
};
static_assert(passes_descriptors<unix_domain>);
static_assert(!passes_descriptors<tipc_domain>);

TEST(Tags, CarryTheKernelsConstantsAtRunTimeToo) {
  // The static_asserts above are the test; this checks the constants reach a real call.
  EXPECT_EQ(socket_pair<stream>::end_type::type::value, SOCK_STREAM);
  EXPECT_EQ((socket_pair<seqpacket, tipc_domain>::end_type::domain::value), AF_TIPC);
}

}  // namespace
