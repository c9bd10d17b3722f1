// Would-block, timeouts and readiness: outcomes a caller can test for, told apart from real
// failures. Only outcomes are asserted, never durations.
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

using std::chrono::milliseconds;

bool would_block(const std::error_code& e) { return e == std::errc::operation_would_block; }

template <class Pair>
class EveryType : public ::testing::Test {};
TYPED_TEST_SUITE(EveryType, all_pair_types, pair_type_names);

// The types whose sender a full receiver holds back (EAGAIN): not TIPC's dgram and rdm,
// which drop or reject what does not fit (docs/io.md, TIPC).
template <class Pair>
class FlowControlledType : public ::testing::Test {};
using flow_controlled_pair_types =
    ::testing::Types<socket_pair<stream>, socket_pair<seqpacket>, socket_pair<dgram>,
                     socket_pair<stream, tipc_domain>, socket_pair<seqpacket, tipc_domain>>;
TYPED_TEST_SUITE(FlowControlledType, flow_controlled_pair_types, pair_type_names);

TYPED_TEST(EveryType, ReceivingFromAnEmptyNonBlockingSocketWouldBlock) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam, {.nonblocking = true});
  std::array<std::byte, 8> buffer{};
  auto got = pair.second.receive(buffer);
  ASSERT_FALSE(got);
  EXPECT_TRUE(would_block(got.error()));
  EXPECT_EQ(got.error(), std::errc::resource_unavailable_try_again);  // the same errno
  EXPECT_EQ(got.error().category(), std::system_category());
  // ... and it is not mistaken for a real failure.
  EXPECT_NE(got.error(), std::errc::broken_pipe);
  EXPECT_NE(got.error(), std::errc::connection_reset);
  EXPECT_NE(got.error(), errc::unexpected_eof);
  if constexpr (TypeParam::end_type::type::message_oriented) {
    EXPECT_TRUE(would_block(pair.second.receive_message(buffer).error()));
    EXPECT_TRUE(would_block(pair.second.peek(buffer).error()));
    EXPECT_TRUE(would_block(pair.second.next_message_size().error()));
  } else {
    EXPECT_TRUE(would_block(pair.second.peek(buffer).error()));
    EXPECT_TRUE(would_block(pair.second.receive_exact(buffer).error()));
  }
}

TYPED_TEST(FlowControlledType, SendingToAFullNonBlockingSocketWouldBlockAndMessagesStayWhole) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam, {.nonblocking = true});
  const auto message = pattern(30, 1000);
  std::size_t sent_total = 0;
  std::size_t sends = 0;
  for (;;) {
    auto sent = pair.first.send(message);
    if (!sent) {
      ASSERT_TRUE(would_block(sent.error())) << sent.error().message();
      break;
    }
    sent_total += sent.value();
    ++sends;
    ASSERT_LT(sends, 1'000'000u) << "the socket never filled";
  }
  EXPECT_GT(sent_total, 0u);
  if constexpr (TypeParam::end_type::type::message_oriented) {
    // No message went out in part: everything queued is whole messages.
    EXPECT_EQ(sent_total, sends * message.size());
    std::array<std::byte, 1000> buffer{};
    for (std::size_t i = 0; i < sends; ++i) {
      auto got = pair.second.receive_message(buffer);
      ASSERT_TRUE(got);
      ASSERT_EQ(got.value().size, message.size());
    }
  }
  auto writable = pair.first.wait_writable(milliseconds(0));
  ASSERT_TRUE(writable);
  if constexpr (!TypeParam::end_type::type::message_oriented) {
    EXPECT_EQ(writable.value(), readiness::timed_out) << "a full stream is not writable";
  }
}

TYPED_TEST(EveryType, AReceiveTimeoutEndsABlockingReceiveAsWouldBlock) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  ASSERT_TRUE(pair.second.set_receive_timeout(milliseconds(20)));
  std::array<std::byte, 8> buffer{};
  auto got = pair.second.receive(buffer);
  ASSERT_FALSE(got);
  EXPECT_TRUE(would_block(got.error())) << got.error().message();
  if constexpr (TypeParam::end_type::type::message_oriented) {
    auto message = pair.second.receive_message(buffer);
    ASSERT_FALSE(message);
    EXPECT_TRUE(would_block(message.error()));
  }
  // The socket is still fine afterwards.
  ASSERT_TRUE(pair.first.send(std::string_view("late")));
  EXPECT_EQ(pair.second.receive(std::span(buffer).first(4)).value(), 4u);
}

TEST(Timeouts, ASendTimeoutEndsABlockedSendAllWithProgressReported) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.set_send_timeout(milliseconds(20)));
  const auto payload = pattern(31, std::size_t{4} * 1024 * 1024);  // far more than fits
  outgoing out(payload);
  auto sent = pair.first.send_all(out);
  const std::size_t done = out.done();
  ASSERT_FALSE(sent);
  EXPECT_TRUE(would_block(sent.error())) << sent.error().message();
  EXPECT_GT(done, 0u);
  EXPECT_LT(done, payload.size());
  // What `done` says went out is exactly what is there to read.
  std::vector<std::byte> received(done);
  ASSERT_TRUE(pair.second.receive_exact(received));
  EXPECT_EQ(checksum_of(received), checksum_of(std::span(payload).first(done)));
  EXPECT_EQ(pair.second.bytes_readable().value(), 0u);
}

TEST(Readiness, AnEmptySocketTimesOutAndBecomesReadyWhenDataArrives) {
  auto pair = socket_pair<stream>::create().value();
  auto idle = pair.second.wait_readable(milliseconds(10));
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle.value(), readiness::timed_out);
  EXPECT_EQ(pair.second.wait_readable(milliseconds(-5)).value(), readiness::timed_out)
      << "a negative timeout is a check that does not wait";
  ASSERT_TRUE(pair.first.send(std::string_view("x")));
  EXPECT_EQ(pair.second.wait_readable(milliseconds(0)).value(), readiness::ready);
  EXPECT_EQ(pair.second.wait_readable(std::chrono::hours(1)).value(), readiness::ready);
  EXPECT_EQ(pair.second.wait_readable().value(), readiness::ready);
}

TEST(Readiness, AFreshSocketIsWritable) {
  auto pair = socket_pair<seqpacket>::create().value();
  EXPECT_EQ(pair.first.wait_writable(milliseconds(0)).value(), readiness::ready);
  EXPECT_EQ(pair.first.wait_writable().value(), readiness::ready);
}

TEST(Readiness, EndOfStreamAndDeadPeersCountAsReadySoTheCallCanReportThem) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.close());
  EXPECT_EQ(pair.second.wait_readable(milliseconds(0)).value(), readiness::ready);
  EXPECT_EQ(pair.second.wait_writable(milliseconds(0)).value(), readiness::ready);
  std::array<std::byte, 1> buffer{};
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);
  EXPECT_EQ(pair.second.send(buffer).error(), std::errc::broken_pipe);
}

TEST(Readiness, AnEmptySocketObjectReportsEbadf) {
  socket<stream> empty;
  auto outcome = empty.wait_readable(milliseconds(0));
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error(), std::errc::bad_file_descriptor);
}

}  // namespace
}  // namespace sockpair::testing
