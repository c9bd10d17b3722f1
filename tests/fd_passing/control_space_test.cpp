// The control buffer of receive_with_fds has room for everything the kernel may add beside
// the descriptors (timestamps, credentials, a pidfd), so those never crowd a descriptor out;
// and only an SCM_RIGHTS that was really cut counts as descriptors lost.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <string_view>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::receive_with_fds;
using sockpair::send_with_fds;
using sockpair::socket_pair;
using sockpair::testing::bytes_of;
using sockpair::testing::make_pipe;
using sockpair::testing::same_file;

#if !defined(SO_PASSPIDFD)
constexpr int SO_PASSPIDFD = 76;  // Linux >= 6.5; older headers lack the number
#endif

// Every control message a receiver can ask the kernel to add to each AF_UNIX message.
template <class Socket>
void ask_for_every_unsolicited_control_message(Socket& s) {
  const int on = 1;
  ASSERT_EQ(::setsockopt(s.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on), 0);
  const int stamping = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
  ASSERT_EQ(
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof stamping), 0);
  static_cast<void>(::setsockopt(s.native_handle(), SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on));
  static_cast<void>(::setsockopt(s.native_handle(), SOL_SOCKET, SO_PASSSEC, &on, sizeof on));
  ASSERT_TRUE(sockpair::set_receive_credentials(s, true));
}

template <class Pair>
class ControlSpace : public ::testing::Test {};
using message_pairs = ::testing::Types<socket_pair<sockpair::seqpacket>,
                                       socket_pair<sockpair::dgram>, socket_pair<sockpair::stream>>;
TYPED_TEST_SUITE(ControlSpace, message_pairs);

TYPED_TEST(ControlSpace, TimestampsCredentialsAndAPidfdLeaveRoomForTheDescriptor) {
  auto pair = TypeParam::create().value();
  ask_for_every_unsolicited_control_message(pair.second);
  auto pipe = make_pipe();
  ASSERT_TRUE(send_with_fds(pair.first, bytes_of("x"), {pipe.write.get()}));
  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds<1>(pair.second, buffer);
  ASSERT_TRUE(got) << got.error().message() << ": the descriptor was crowded out";
  ASSERT_EQ(got.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), pipe.write.get()));
  EXPECT_TRUE(got.value().credentials.has_value());
}

TYPED_TEST(ControlSpace, SoDoThemForTheVectorAndSpanForms) {
  auto pair = TypeParam::create().value();
  ask_for_every_unsolicited_control_message(pair.second);
  auto pipe = make_pipe();
  std::array<std::byte, 8> buffer{};
  ASSERT_TRUE(send_with_fds(pair.first, bytes_of("x"), {pipe.read.get()}));
  auto vector = receive_with_fds(pair.second, buffer);
  ASSERT_TRUE(vector) << vector.error().message();
  EXPECT_EQ(vector.value().fds.size(), 1U);
  ASSERT_TRUE(send_with_fds(pair.first, bytes_of("y"), {pipe.write.get()}));
  std::array<sockpair::unique_fd, 1> storage;
  auto span = receive_with_fds(pair.second, buffer, storage);
  ASSERT_TRUE(span) << span.error().message();
  EXPECT_EQ(span.value().fds.size(), 1U);
}

}  // namespace
