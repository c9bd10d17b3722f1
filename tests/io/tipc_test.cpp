// TIPC pairs where their semantics differ from AF_UNIX's: what the library reports at the end
// of a stream, what TIPC cannot report at all, and the calls it does not support. Each test
// pins a row of docs/io.md's "TIPC" section. Without the tipc module they skip (and fail
// under tools/vm, which loads it).
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string_view>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

using namespace std::chrono_literals;

template <class Pair>
class TipcConnection : public ::testing::Test {};
using tipc_connection_types =
    ::testing::Types<socket_pair<stream, tipc_domain>, socket_pair<seqpacket, tipc_domain>>;
TYPED_TEST_SUITE(TipcConnection, tipc_connection_types, pair_type_names);

template <class Pair>
class TipcConnectionless : public ::testing::Test {};
using tipc_connectionless_types =
    ::testing::Types<socket_pair<dgram, tipc_domain>, socket_pair<rdm, tipc_domain>>;
TYPED_TEST_SUITE(TipcConnectionless, tipc_connectionless_types, pair_type_names);

template <class Pair>
class EveryTipcType : public ::testing::Test {};
using tipc_pair_types =
    ::testing::Types<socket_pair<stream, tipc_domain>, socket_pair<seqpacket, tipc_domain>,
                     socket_pair<dgram, tipc_domain>, socket_pair<rdm, tipc_domain>>;
TYPED_TEST_SUITE(EveryTipcType, tipc_pair_types, pair_type_names);

// The kernel answers a receive after the peer closed with ECONNRESET, every time; the library
// reports the end of the stream instead, as on AF_UNIX: 0, `end_of_stream`, unexpected_eof.
TYPED_TEST(TipcConnection, PeerCloseEndsTheStreamAfterEverythingItSent) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  ASSERT_TRUE(b.set_receive_timeout(10s));  // a watchdog: a wrong wait fails, never hangs
  ASSERT_TRUE(a.send(std::string_view("abc")));
  ASSERT_TRUE(a.send(std::string_view("de")));
  ASSERT_TRUE(a.close());

  std::array<std::byte, 16> buffer{};
  if constexpr (TypeParam::end_type::type::message_oriented) {
    auto first = b.receive_message(buffer);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first.value().size, 3u);
    EXPECT_EQ(b.next_message_size().value(), 2u);
    auto second = b.receive(buffer);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(second.value(), 2u);
    for (int i = 0; i < 2; ++i) {
      auto end = b.receive_message(buffer);
      ASSERT_TRUE(end) << end.error().message();
      EXPECT_TRUE(end.value().end_of_stream);
    }
    auto size = b.next_message_size();
    ASSERT_FALSE(size);
    EXPECT_EQ(size.error(), errc::unexpected_eof);
    auto peeked = b.peek(buffer);
    ASSERT_TRUE(peeked) << peeked.error().message();
    EXPECT_TRUE(peeked.value().end_of_stream);
    auto plain = b.receive(buffer);
    ASSERT_TRUE(plain) << plain.error().message();
    EXPECT_EQ(plain.value(), 0u);
  } else {
    std::array<std::byte, 5> all{};
    ASSERT_TRUE(b.receive_exact(all));
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(all.data()), all.size()), "abcde");
    for (int i = 0; i < 2; ++i) {
      auto end = b.receive(buffer);
      ASSERT_TRUE(end) << end.error().message();
      EXPECT_EQ(end.value(), 0u);
    }
    auto peeked = b.peek(buffer);
    ASSERT_TRUE(peeked) << peeked.error().message();
    EXPECT_EQ(peeked.value(), 0u);
    incoming in(buffer);
    auto exact = b.receive_exact(in);
    ASSERT_FALSE(exact);
    EXPECT_EQ(exact.error(), errc::unexpected_eof);
    EXPECT_EQ(in.done(), 0u);
  }
}

// After the peer's shutdown() the kernel reports the end once (a 0); a later receive waits
// as if more could come. Pinned: the second receive meets the receive timeout.
TYPED_TEST(TipcConnection, PeerShutdownIsReportedOnceThenReceivesWait) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  ASSERT_TRUE(a.send(std::string_view("abc")));
  ASSERT_TRUE(a.shutdown(shutdown_how::both));
  ASSERT_TRUE(b.set_receive_timeout(100ms));
  std::array<std::byte, 16> buffer{};
  auto data = b.receive(buffer);
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(data.value(), 3u);
  auto end = b.receive(buffer);
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_EQ(end.value(), 0u);
  auto after = b.receive(buffer);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), std::errc::operation_would_block);
  // The peer that shut down cannot send any more.
  auto sent = a.send(std::string_view("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

// This end's own shutdown() discards what was queued and ends its receives (the kernel says
// ENOTCONN; the library, as on AF_UNIX, the end of the stream).
TYPED_TEST(TipcConnection, OwnShutdownEndsReceivesAndDiscardsWhatWasQueued) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  ASSERT_TRUE(a.send(std::string_view("abc")));
  ASSERT_TRUE(b.set_receive_timeout(10s));  // watchdog
  ASSERT_TRUE(b.shutdown(shutdown_how::both));
  std::array<std::byte, 16> buffer{};
  auto end = b.receive(buffer);
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_EQ(end.value(), 0u);
}

// A connectionless TIPC socket learns nothing when its peer closes: sends still succeed (the
// messages are dropped) and receives wait. AF_UNIX dgram fails the send with ECONNREFUSED.
TYPED_TEST(TipcConnectionless, ASendToAClosedPeerSucceedsAndTheMessageIsLost) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  ASSERT_TRUE(a.close());
  auto sent = b.send(std::string_view("lost"));
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), 4u);
  ASSERT_TRUE(b.set_receive_timeout(100ms));
  std::array<std::byte, 16> buffer{};
  auto got = b.receive_message(buffer);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_would_block);
}

// A full receiver does not hold a connectionless TIPC sender back: every send succeeds and
// what does not fit is dropped (measured on 6.1: 200,000 sends of 1,000 bytes accepted, 910
// received). AF_UNIX dgram blocks the sender, or fails a non-blocking send with EAGAIN.
TYPED_TEST(TipcConnectionless, AFullReceiverDropsMessagesInsteadOfHoldingTheSenderBack) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam, {.nonblocking = true});
  auto& a = pair.first;
  auto& b = pair.second;
  const auto message = pattern(9, 1000);
  constexpr int sends = 20'000;
  for (int i = 0; i < sends; ++i) {
    auto sent = a.send(message);
    ASSERT_TRUE(sent) << "send " << i << ": " << sent.error().message();
  }
  std::vector<std::byte> buffer(message.size());
  int received = 0;
  while (b.receive(buffer)) {
    ++received;
  }
  EXPECT_GT(received, 0);
  EXPECT_LT(received, sends) << "nothing was dropped: the receiver held every message";
}

// The largest message TIPC carries, 66,000 bytes: sized exactly by next_message_size (which
// peeks it whole: TIPC reports no size beyond what it copies), received whole.
TYPED_TEST(TipcConnectionless, TheLargestMessageIsSizedExactlyAndArrivesWhole) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  const auto message = pattern(7, 66'000);
  ASSERT_TRUE(a.send(message));
  auto too_long = a.send(pattern(8, 66'001));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), std::errc::message_size);
  auto size = b.next_message_size();
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(size.value(), 66'000u);
  std::vector<std::byte> buffer(size.value());
  auto got = b.receive_message(buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(got.value().truncated());
  EXPECT_EQ(buffer, message);
}

// TIPC implements neither FIONREAD nor SIOCOUTQ: ENOTTY.
TYPED_TEST(EveryTipcType, QueueSizesAreNotAvailable) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto readable = pair.second.bytes_readable();
  ASSERT_FALSE(readable);
  EXPECT_EQ(readable.error(), std::errc::inappropriate_io_control_operation);
  auto unsent = pair.first.bytes_unsent();
  ASSERT_FALSE(unsent);
  EXPECT_EQ(unsent.error(), std::errc::inappropriate_io_control_operation);
}

}  // namespace
}  // namespace sockpair::testing
