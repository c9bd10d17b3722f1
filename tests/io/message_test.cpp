// Message sockets (seqpacket, dgram, TIPC rdm): whole messages, boundaries, truncation with
// the real size, empty messages, and the end of a seqpacket stream told apart from them.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"
#include "tests/support/environment.hpp"
#include "tests/support/fds.hpp"

namespace sockpair::testing {
namespace {

template <class Pair>
class EveryMessageType : public ::testing::Test {};
TYPED_TEST_SUITE(EveryMessageType, message_pair_types, pair_type_names);

template <class Pair>
class UnixMessageType : public ::testing::Test {};
TYPED_TEST_SUITE(UnixMessageType, unix_message_pair_types, pair_type_names);

TYPED_TEST(EveryMessageType, BoundariesSurviveTenThousandMessagesOfRandomSize) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  const int count = slow_machine() ? 1'000 : 10'000;  // under tools/vm's emulation: 1,000
  constexpr std::size_t largest = 4096;

  // The sizes (0 included: an empty message is a message) come from a seeded generator, so a
  // failure replays exactly; each message's bytes depend on its index. TIPC never delivers an
  // empty message (see ZeroLengthMessagesAreDeliveredAsMessages): from 1 byte there.
  std::vector<std::size_t> sizes(static_cast<std::size_t>(count));
  std::mt19937_64 random(20240229);  // NOLINT(cert-msc51-cpp): a fixed seed replays exactly
  std::uniform_int_distribution<std::size_t> size_of(is_tipc<TypeParam> ? 1 : 0, largest);
  for (auto& size : sizes) {
    size = size_of(random);
  }

  // TIPC's dgram and rdm drop what a full receiver cannot hold: their sender stays at most
  // 32 messages (128 KiB) ahead. Elsewhere the kernel holds the sender back.
  const int window = is_unpaced<TypeParam> ? 32 : count;
  std::atomic<int> received_count{0};
  std::string sender_error;
  std::thread sender([&] {
    for (int i = 0; i < count && sender_error.empty(); ++i) {
      while (i - received_count.load() >= window) {
        std::this_thread::yield();
      }
      const auto bytes = pattern(static_cast<std::uint64_t>(i), sizes[static_cast<std::size_t>(i)]);
      auto sent = a.send(bytes);
      if (!sent || sent.value() != bytes.size()) {
        sender_error = "message " + std::to_string(i) + " not sent whole";
      }
    }
  });

  std::vector<std::byte> buffer(largest + 1);  // one spare byte: a merged message would show
  int wrong_sizes = 0;
  int wrong_bytes = 0;
  for (int i = 0; i < count; ++i) {
    auto got = b.receive_message(buffer);
    received_count.store(i + 1);
    ASSERT_TRUE(got) << "message " << i << ": " << got.error().message();
    ASSERT_FALSE(got.value().end_of_stream) << "message " << i;
    const std::size_t expected = sizes[static_cast<std::size_t>(i)];
    if (got.value().size != expected || got.value().stored != expected) {
      ++wrong_sizes;
      continue;
    }
    if (!std::equal(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(expected),
                    pattern(static_cast<std::uint64_t>(i), expected).begin())) {
      ++wrong_bytes;
    }
  }
  sender.join();
  EXPECT_EQ(sender_error, "");
  EXPECT_EQ(wrong_sizes, 0) << "message boundaries moved";
  EXPECT_EQ(wrong_bytes, 0);
  EXPECT_EQ(b.wait_readable(std::chrono::nanoseconds(0)).value(), readiness::timed_out)
      << "more arrived than was sent";
}

TYPED_TEST(EveryMessageType, TruncationIsReportedWithTheRealSizeAndTheNextMessageIsIntact) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  const auto long_message = pattern(1, 1000);
  const auto next_message = pattern(2, 10);
  ASSERT_TRUE(a.send(long_message));
  ASSERT_TRUE(a.send(long_message));
  ASSERT_TRUE(a.send(next_message));

  std::array<std::byte, 64> small{};
  // receive(): never silent. The error names the condition, the buffer holds the head.
  auto plain = b.receive(small);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), errc::message_truncated);
  EXPECT_EQ(plain.error(), std::errc::message_size);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), long_message.begin()));

  // receive_message(): the same, as data: how much was kept and how long the message was.
  // TIPC returns only what fit (with MSG_TRUNC), so there `size` is a lower bound.
  auto detailed = b.receive_message(small);
  ASSERT_TRUE(detailed) << detailed.error().message();
  EXPECT_TRUE(detailed.value().truncated());
  EXPECT_EQ(detailed.value().stored, small.size());
  if constexpr (is_tipc<TypeParam>) {
    EXPECT_EQ(detailed.value().size, small.size() + 1);
  } else {
    EXPECT_EQ(detailed.value().size, long_message.size());
  }
  EXPECT_FALSE(detailed.value().end_of_stream);

  // The rest of each long message is gone: the next receive is the next message, whole.
  auto next = b.receive_message(small);
  ASSERT_TRUE(next);
  EXPECT_FALSE(next.value().truncated());
  EXPECT_EQ(next.value().size, next_message.size());
  EXPECT_TRUE(std::equal(next_message.begin(), next_message.end(), small.begin()));
}

TYPED_TEST(EveryMessageType, PeekAndNextMessageSizeDoNotConsume) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  const auto message = pattern(3, 300);
  ASSERT_TRUE(a.send(message));

  auto size = b.next_message_size();
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(size.value(), 300u);

  std::array<std::byte, 16> head{};
  auto peeked = b.peek(head);
  ASSERT_TRUE(peeked) << peeked.error().message();
  EXPECT_TRUE(peeked.value().truncated());
  EXPECT_EQ(peeked.value().size, is_tipc<TypeParam> ? head.size() + 1 : 300u);  // TIPC: a bound
  EXPECT_TRUE(std::equal(head.begin(), head.end(), message.begin()));

  // Sized by the peek, the receive takes the whole message: nothing was consumed before.
  std::vector<std::byte> buffer(size.value());
  auto got = b.receive(buffer);
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value(), 300u);
  EXPECT_EQ(buffer, message);
}

TYPED_TEST(EveryMessageType, ZeroLengthMessagesAreDeliveredAsMessages) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  auto sent = a.send(std::span<const std::byte>());
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), 0u);
  ASSERT_TRUE(a.send(std::span<const std::byte>()));
  ASSERT_TRUE(a.send(std::string_view("x")));

  std::array<std::byte, 8> buffer{};
  if constexpr (is_tipc<TypeParam>) {
    // TIPC accepts an empty message and never delivers it: the receiver's recvmsg(2) steps
    // over messages without data (net/tipc/socket.c). The next message is "x".
    EXPECT_EQ(b.next_message_size().value(), 1u);
    auto only = b.receive_message(buffer);
    ASSERT_TRUE(only) << only.error().message();
    EXPECT_EQ(only.value().size, 1u);
    EXPECT_EQ(b.wait_readable(std::chrono::nanoseconds(0)).value(), readiness::timed_out);
    return;
  }
  EXPECT_EQ(b.next_message_size().value(), 0u);
  auto first = b.receive_message(buffer);
  ASSERT_TRUE(first);
  EXPECT_EQ(first.value().size, 0u);
  EXPECT_FALSE(first.value().end_of_stream);
  auto second = b.receive(buffer);
  ASSERT_TRUE(second);
  EXPECT_EQ(second.value(), 0u);
  // Each empty message was exactly one message: the next one is "x".
  auto third = b.receive_message(buffer);
  ASSERT_TRUE(third);
  EXPECT_EQ(third.value().size, 1u);
}

TEST(SeqpacketEndOfStream, EmptyMessagesBeforeTheShutdownAreMessagesThenTheEndIsReported) {
  auto pair = socket_pair<seqpacket>::create().value();
  auto& a = pair.first;
  auto& b = pair.second;
  ASSERT_TRUE(a.send(std::span<const std::byte>()));
  ASSERT_TRUE(a.send(std::string_view("ab")));
  ASSERT_TRUE(a.send(std::span<const std::byte>()));
  ASSERT_TRUE(a.send(std::span<const std::byte>()));
  ASSERT_TRUE(a.shutdown(shutdown_how::write));

  // The hard case: empty messages still queued after the peer shut down look, to recv(2),
  // exactly like the end of the stream. receive_message tells them apart.
  std::array<std::byte, 8> buffer{};
  const std::size_t expected_sizes[] = {0, 2, 0, 0};
  for (const std::size_t expected : expected_sizes) {
    auto got = b.receive_message(buffer);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_FALSE(got.value().end_of_stream);
    EXPECT_EQ(got.value().size, expected);
  }
  for (int again = 0; again < 2; ++again) {  // the end is reported every time after
    auto end = b.receive_message(buffer);
    ASSERT_TRUE(end);
    EXPECT_TRUE(end.value().end_of_stream);
    EXPECT_EQ(end.value().size, 0u);
  }
  auto next = b.next_message_size();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error(), errc::unexpected_eof);
  // And the half-closed pair still carries the answer the other way.
  ASSERT_TRUE(b.send(std::string_view("ok")));
  EXPECT_EQ(a.receive(buffer).value(), 2u);
}

TEST(SeqpacketEndOfStream, PeerCloseEndsTheStreamAfterItsLastEmptyMessage) {
  auto pair = socket_pair<seqpacket>::create().value();
  auto& b = pair.second;
  ASSERT_TRUE(pair.first.send(std::span<const std::byte>()));
  ASSERT_TRUE(pair.first.close());
  std::array<std::byte, 8> buffer{};
  auto peeked = b.peek(buffer);
  ASSERT_TRUE(peeked);
  EXPECT_FALSE(peeked.value().end_of_stream) << "the empty message is still queued";
  auto last = b.receive_message(buffer);
  ASSERT_TRUE(last);
  EXPECT_FALSE(last.value().end_of_stream);
  auto end = b.receive_message(buffer);
  ASSERT_TRUE(end);
  EXPECT_TRUE(end.value().end_of_stream);
  EXPECT_TRUE(b.peek(buffer).value().end_of_stream);
}

TEST(SeqpacketEndOfStream, PlainReceiveReturnsZeroForBothAnEmptyMessageAndTheEnd) {
  // What the kernel gives recv(2), and so receive(): the same 0 for both. This pins the
  // reason receive_message exists; if a kernel ever reports them differently, it shows here.
  auto pair = socket_pair<seqpacket>::create().value();
  ASSERT_TRUE(pair.first.send(std::span<const std::byte>()));
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  std::array<std::byte, 8> buffer{};
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);  // the empty message
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);  // the end
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);
}

TEST(SeqpacketEndOfStream, TellingThemApartLeavesTheCallersSoPasscredAsItWas) {
  for (const int setting : {0, 1}) {
    SCOPED_TRACE("SO_PASSCRED was " + std::to_string(setting));
    auto pair = socket_pair<seqpacket>::create().value();
    auto& b = pair.second;
    ASSERT_EQ(::setsockopt(b.native_handle(), SOL_SOCKET, SO_PASSCRED, &setting, sizeof setting),
              0);
    ASSERT_TRUE(pair.first.send(std::span<const std::byte>()));
    ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
    std::array<std::byte, 8> buffer{};
    EXPECT_FALSE(b.receive_message(buffer).value().end_of_stream);
    EXPECT_TRUE(b.receive_message(buffer).value().end_of_stream);
    int now = -1;
    socklen_t len = sizeof now;
    ASSERT_EQ(::getsockopt(b.native_handle(), SOL_SOCKET, SO_PASSCRED, &now, &len), 0);
    EXPECT_EQ(now, setting);
  }
}

TEST(SeqpacketEndOfStream, DescriptorsRidingOnAnEmptyMessageDoNotLeakIntoThePeek) {
  // An empty message may carry descriptors (SCM_RIGHTS). Telling it from the end peeks
  // with a control buffer; no descriptor may be installed by that peek.
  auto pair = socket_pair<seqpacket>::create().value();
  int carried = ::dup(0);
  ASSERT_GE(carried, 0);
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &carried, sizeof carried);
  ASSERT_EQ(::sendmsg(pair.first.native_handle(), &msg, MSG_NOSIGNAL), 0);
  ::close(carried);
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));

  const auto before = open_fds();
  std::array<std::byte, 8> buffer{};
  auto peeked = pair.second.peek(buffer);
  ASSERT_TRUE(peeked);
  EXPECT_FALSE(peeked.value().end_of_stream);
  EXPECT_EQ(open_fds(), before);
}

TEST(DgramEndOfStream, ThisEndsOwnReadShutdownEndsTheStreamAfterQueuedMessages) {
  // A dgram pair has no EOF from the peer (see PeerDeath); shutting down this end's reading
  // side is the one way its receive returns 0 for good.
  auto pair = socket_pair<dgram>::create().value();
  auto& b = pair.second;
  ASSERT_TRUE(pair.first.send(std::span<const std::byte>()));
  ASSERT_TRUE(b.shutdown(shutdown_how::read));
  std::array<std::byte, 8> buffer{};
  auto queued = b.receive_message(buffer);
  ASSERT_TRUE(queued);
  EXPECT_FALSE(queued.value().end_of_stream);
  auto end = b.receive_message(buffer);
  ASSERT_TRUE(end);
  EXPECT_TRUE(end.value().end_of_stream);
}

TYPED_TEST(UnixMessageType, AMessageLongerThanTheSendBufferFailsWholeWithEmsgsize) {
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  auto& a = pair.first;
  auto& b = pair.second;
  const std::size_t limit = a.send_buffer_size().value() - 32;  // AF_UNIX's largest message
  const auto too_long = pattern(4, limit + 1);
  auto refused = a.send(too_long);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::message_size);
  EXPECT_EQ(b.bytes_readable().value(), 0u) << "no part of it may go out";

  const auto longest = pattern(5, limit);
  auto sent = a.send(longest);
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), limit);
  std::vector<std::byte> buffer(limit);
  EXPECT_EQ(b.receive(buffer).value(), limit);
  EXPECT_EQ(buffer, longest);
}

}  // namespace
}  // namespace sockpair::testing
