// Scatter/gather: spans of spans through one sendmsg/recvmsg, and IOV_MAX: a stream moves
// the first max_io_buffers buffers (a short count), a message call refuses more up front.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <limits.h>

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

std::span<const std::byte> view(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(IoVectorLimit, IsTheSystemsIovMax) {
  EXPECT_EQ(max_io_buffers, static_cast<std::size_t>(IOV_MAX));
  EXPECT_EQ(max_io_buffers, 1024u);  // Linux's UIO_MAXIOV
}

TEST(Gather, AStreamSendsTheBuffersInOrder) {
  auto pair = socket_pair<stream>::create().value();
  const std::span<const std::byte> pieces[] = {view("head|"), view(""), view("body|"),
                                               view("tail")};
  auto sent = pair.first.send(pieces);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent.value(), 14u);
  std::string in(14, '\0');
  ASSERT_TRUE(pair.second.receive_exact(in));
  EXPECT_EQ(in, "head|body|tail");
}

TEST(Scatter, AStreamFillsTheBuffersInOrder) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send_all(std::string_view("abcdefgh")));
  std::array<char, 3> one{};
  std::array<char, 5> two{};
  const std::span<std::byte> pieces[] = {writable_bytes_of(one), writable_bytes_of(two)};
  auto got = pair.second.receive(pieces);
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value(), 8u);
  EXPECT_EQ(std::string_view(one.data(), 3), "abc");
  EXPECT_EQ(std::string_view(two.data(), 5), "defgh");
}

TEST(Gather, MessageBuffersFormOneMessage) {
  auto pair = socket_pair<seqpacket>::create().value();
  const std::span<const std::byte> pieces[] = {view("one "), view("message")};
  ASSERT_EQ(pair.first.send(pieces).value(), 11u);
  ASSERT_TRUE(pair.first.send(view("next")));
  std::array<char, 32> buffer{};
  auto got = pair.second.receive_message(buffer);
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value().size, 11u);
  EXPECT_EQ(std::string_view(buffer.data(), 11), "one message");
}

TEST(Scatter, AMessageSpreadsOverTheBuffersAndTruncationCountsThemAll) {
  auto pair = socket_pair<dgram>::create().value();
  ASSERT_TRUE(pair.first.send(view("0123456789")));
  ASSERT_TRUE(pair.first.send(view("0123456789")));
  std::array<char, 4> one{};
  std::array<char, 4> two{};
  const std::span<std::byte> pieces[] = {writable_bytes_of(one), writable_bytes_of(two)};
  auto detailed = pair.second.receive_message(pieces);
  ASSERT_TRUE(detailed);
  EXPECT_TRUE(detailed.value().truncated());
  EXPECT_EQ(detailed.value().stored, 8u);
  EXPECT_EQ(detailed.value().size, 10u);
  EXPECT_EQ(std::string(one.data(), 4) + std::string(two.data(), 4), "01234567");
  auto plain = pair.second.receive(pieces);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), errc::message_truncated);
}

TEST(IoVectorLimit, AMessageOfMoreBuffersThanIovMaxIsRefusedUpFrontAndNothingIsSent) {
  auto pair = socket_pair<seqpacket>::create().value();
  const std::array<std::byte, 1> byte{};
  std::vector<std::span<const std::byte>> pieces(max_io_buffers + 1, std::span(byte));
  auto sent = pair.first.send(pieces);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::message_size);
  EXPECT_EQ(pair.second.wait_readable(std::chrono::milliseconds(0)).value(), readiness::timed_out);

  pieces.resize(max_io_buffers);  // exactly IOV_MAX: one message
  ASSERT_EQ(pair.first.send(pieces).value(), max_io_buffers);
  std::vector<std::byte> in(max_io_buffers + 10);
  EXPECT_EQ(pair.second.receive_message(in).value().size, max_io_buffers);

  std::array<std::byte, 1> slot{};
  std::vector<std::span<std::byte>> slots(max_io_buffers + 1, std::span(slot));
  auto refused = pair.second.receive_message(slots);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::message_size);
}

TEST(IoVectorLimit, AStreamSendOfMoreBuffersThanIovMaxIsAShortCountAndSendAllFinishes) {
  auto pair = socket_pair<stream>::create().value();
  const std::size_t count = max_io_buffers * 2 + 7;
  const auto payload = pattern(40, count);
  std::vector<std::span<const std::byte>> pieces;
  for (std::size_t i = 0; i < count; ++i) {
    pieces.push_back(std::span(payload).subspan(i, 1));
  }
  auto once = pair.first.send(pieces);
  ASSERT_TRUE(once);
  EXPECT_EQ(once.value(), max_io_buffers) << "one call moves the first IOV_MAX buffers";

  // The rest: each piece is one byte, so the pieces not sent start at the count.
  auto rest = pair.first.send_all(
      std::span<const std::span<const std::byte>>(pieces).subspan(once.value()));
  ASSERT_TRUE(rest) << rest.error().message();
  EXPECT_EQ(once.value() + rest.value(), count);

  // Scatter the other way round, one byte per buffer, across several calls.
  std::vector<std::byte> received(count);
  std::vector<std::span<std::byte>> slots;
  for (std::size_t i = 0; i < count; ++i) {
    slots.push_back(std::span(received).subspan(i, 1));
  }
  auto got = pair.second.receive_exact(slots);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value(), count);
  EXPECT_EQ(received, payload);
}

TEST(Gather, SendAllResumesMidBufferAfterWouldBlock) {
  auto pair = socket_pair<stream>::create({.nonblocking = true}).value();
  const auto first = pattern(41, 300'000);
  const auto second = pattern(42, 500'000);
  const std::span<const std::byte> pieces[] = {first, second};
  std::vector<std::byte> received;
  std::array<std::byte, 65536> buffer{};
  outgoing_buffers out(pieces);
  for (;;) {
    auto sent = pair.first.send_all(out);
    if (sent) {
      break;
    }
    ASSERT_EQ(sent.error(), std::errc::operation_would_block);
    for (auto got = pair.second.receive(buffer); got; got = pair.second.receive(buffer)) {
      received.insert(received.end(), buffer.begin(), buffer.begin() + got.value());
    }
  }
  for (auto got = pair.second.receive(buffer); got; got = pair.second.receive(buffer)) {
    received.insert(received.end(), buffer.begin(), buffer.begin() + got.value());
  }
  std::vector<std::byte> expected = first;
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(out.done(), expected.size());
  EXPECT_EQ(checksum_of(received), checksum_of(expected));
}

TEST(Scatter, ReceiveExactReportsPrematureEofWithTheBytesCounted) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send_all(std::string_view("12345")));
  ASSERT_TRUE(pair.first.close());
  std::array<char, 3> one{};
  std::array<char, 3> two{};
  const std::span<std::byte> pieces[] = {writable_bytes_of(one), writable_bytes_of(two)};
  incoming_buffers in(pieces);
  auto got = pair.second.receive_exact(in);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::unexpected_eof);
  EXPECT_EQ(in.done(), 5u);
}

}  // namespace
}  // namespace sockpair::testing
