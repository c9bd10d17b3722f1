// Stream sockets: short counts, EOF, send_all/receive_exact that resume exactly where they
// stopped, half-close, and the byte-range overloads (in place, no copies).
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

TEST(StreamReceive, ReturnsWhatIsThereAndZeroAtOrderlyEof) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send(std::string_view("abc")));
  std::array<char, 64> buffer{};
  auto got = pair.second.receive(buffer);  // a short count: 3 of 64
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value(), 3u);
  EXPECT_EQ(std::string_view(buffer.data(), 3), "abc");
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);  // and stays at EOF
}

// 0 from a stream receive means the end of the stream; an empty buffer would return 0 with
// data queued. So an empty buffer is refused, and nothing is consumed.
TEST(StreamReceive, AnEmptyBufferIsRefusedRatherThanReadAsTheEndOfTheStream) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send(std::string_view("abc")));
  const std::span<std::byte> empty;
  auto got = pair.second.receive(empty);
  ASSERT_FALSE(got) << "returned " << got.value() << ", which reads as the end of the stream";
  EXPECT_EQ(got.error(), std::errc::invalid_argument);
  auto peeked = pair.second.peek(empty);
  ASSERT_FALSE(peeked);
  EXPECT_EQ(peeked.error(), std::errc::invalid_argument);
  const std::array<std::span<std::byte>, 2> no_room = {empty, empty};
  auto scattered = pair.second.receive(std::span<const std::span<std::byte>>(no_room));
  ASSERT_FALSE(scattered);
  EXPECT_EQ(scattered.error(), std::errc::invalid_argument);
  std::array<char, 8> buffer{};
  ASSERT_EQ(pair.second.receive(buffer).value(), 3u) << "the refusals consumed nothing";
  EXPECT_EQ(std::string_view(buffer.data(), 3), "abc");
}

TEST(StreamSend, ShortCountsOnAFullNonBlockingBufferAreReportedAsSuch) {
  auto pair = socket_pair<stream>::create({.nonblocking = true}).value();
  const auto big = pattern(7, std::size_t{4} * 1024 * 1024);
  auto sent = pair.first.send(big);
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_GT(sent.value(), 0u);
  EXPECT_LT(sent.value(), big.size()) << "4 MiB should not fit a default socket buffer";
}

TEST(StreamReceiveExact, PrematureEofIsItsOwnErrorAndSaysHowMuchArrived) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send_all(std::string_view("12345")));
  ASSERT_TRUE(pair.first.close());
  std::array<char, 8> buffer{};
  incoming in(buffer);
  auto got = pair.second.receive_exact(in);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::unexpected_eof);
  EXPECT_NE(got.error(), std::errc::connection_reset);
  EXPECT_EQ(in.done(), 5u);
  EXPECT_EQ(std::string_view(buffer.data(), in.done()), "12345");
}

TEST(StreamReceiveExact, LoopsOverShortReadsUntilTheBufferIsFull) {
  auto pair = socket_pair<stream>::create().value();
  const auto payload = pattern(8, 1 << 20);
  std::thread writer([&] {
    // Dribble it out in odd pieces so the reader sees many short counts.
    for (std::size_t offset = 0; offset < payload.size();) {
      const std::size_t n = std::min<std::size_t>(4093, payload.size() - offset);
      ASSERT_TRUE(pair.first.send_all(std::span(payload).subspan(offset, n)));
      offset += n;
    }
  });
  std::vector<std::byte> received(payload.size());
  auto got = pair.second.receive_exact(received);
  writer.join();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value(), payload.size());
  EXPECT_EQ(checksum_of(received), checksum_of(payload));
}

TEST(StreamSendAll, ResumesAfterWouldBlockWithoutRepeatingOrSkippingAByte) {
  auto pair = socket_pair<stream>::create({.nonblocking = true}).value();
  const auto payload = pattern(9, std::size_t{3} * 1024 * 1024);
  std::vector<std::byte> received;
  std::array<std::byte, 65536> buffer{};
  outgoing out(payload);
  int interruptions = 0;
  for (;;) {
    auto sent = pair.first.send_all(out);
    if (sent) {
      EXPECT_EQ(sent.value(), payload.size());
      break;
    }
    ASSERT_EQ(sent.error(), std::errc::operation_would_block) << sent.error().message();
    ++interruptions;
    // Drain what is queued, then retry with the same transfer.
    for (;;) {
      auto got = pair.second.receive(buffer);
      if (!got) {
        ASSERT_EQ(got.error(), std::errc::operation_would_block);
        break;
      }
      received.insert(received.end(), buffer.begin(), buffer.begin() + got.value());
    }
  }
  EXPECT_EQ(out.done(), payload.size());
  EXPECT_GT(interruptions, 0) << "the buffer never filled: the test proved nothing";
  for (;;) {
    auto got = pair.second.receive(buffer);
    if (!got) {
      break;
    }
    received.insert(received.end(), buffer.begin(), buffer.begin() + got.value());
  }
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_EQ(checksum_of(received), checksum_of(payload));
}

TEST(StreamReceiveExact, ResumesAfterWouldBlockWithoutLosingBytes) {
  auto pair = socket_pair<stream>::create({.nonblocking = true}).value();
  const auto payload = pattern(10, 1000);
  std::vector<std::byte> received(payload.size());
  incoming in(received);
  for (std::size_t offset = 0; offset < payload.size(); offset += 300) {
    auto got = pair.second.receive_exact(in);
    ASSERT_FALSE(got);
    ASSERT_EQ(got.error(), std::errc::operation_would_block);
    EXPECT_EQ(in.done(), offset);
    const std::size_t n = std::min<std::size_t>(300, payload.size() - offset);
    ASSERT_TRUE(pair.first.send_all(std::span(payload).subspan(offset, n)));
  }
  auto got = pair.second.receive_exact(in);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(received, payload);
}

TEST(HalfClose, WriterShutsDownReaderDrainsSeesEofAndAnswers) {
  auto pair = socket_pair<stream>::create().value();
  auto& writer = pair.first;
  auto& reader = pair.second;
  const auto request = pattern(11, 200'000);  // more than one socket buffer: the writer blocks
  std::string answer_seen;
  std::thread writer_thread([&] {
    ASSERT_TRUE(writer.send_all(request));
    ASSERT_TRUE(writer.shutdown(shutdown_how::write));
    std::array<char, 16> buffer{};
    auto got = writer.receive_exact(std::span(buffer).first(6));
    answer_seen = got ? std::string(buffer.data(), 6) : got.error().message();
    // After the answer, the reader closes: this end sees EOF too.
    EXPECT_EQ(writer.receive(buffer).value(), 0u);
  });
  checksum drained;
  std::array<std::byte, 4096> buffer{};
  for (;;) {
    auto got = reader.receive(buffer);
    ASSERT_TRUE(got) << got.error().message();
    if (got.value() == 0) {
      break;  // EOF: everything the writer sent has been read
    }
    drained.add(std::span(buffer).first(got.value()));
  }
  EXPECT_EQ(drained, checksum_of(request));
  ASSERT_TRUE(reader.send_all(std::string_view("answer")));
  ASSERT_TRUE(reader.close());
  writer_thread.join();
  EXPECT_EQ(answer_seen, "answer");
}

TEST(HalfClose, SeqpacketWriterShutsDownReaderSeesTheEndAndAnswers) {
  auto pair = socket_pair<seqpacket>::create().value();
  ASSERT_TRUE(pair.first.send(std::string_view("question")));
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  std::array<char, 16> buffer{};
  auto question = pair.second.receive_message(buffer);
  ASSERT_TRUE(question);
  EXPECT_EQ(std::string_view(buffer.data(), question.value().size), "question");
  EXPECT_TRUE(pair.second.receive_message(buffer).value().end_of_stream);
  ASSERT_TRUE(pair.second.send(std::string_view("answer")));
  EXPECT_EQ(pair.first.receive(buffer).value(), 6u);
  // The shut side stays shut: sending on it fails with EPIPE (and raises no SIGPIPE).
  auto refused = pair.first.send(std::string_view("more"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::broken_pipe);
}

TEST(HalfClose, ShuttingDownReadingMakesThisEndsReceiveSeeEof) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.second.shutdown(shutdown_how::read));
  std::array<char, 4> buffer{};
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);
  // On AF_UNIX, the peer's sends then fail: the kernel shuts the peer's writing side too.
  auto sent = pair.first.send(std::string_view("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

TEST(HalfClose, ShuttingDownBothDirectionsEndsReceivingAndSending) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send(std::string_view("queued")));
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::both));
  std::array<char, 8> buffer{};
  EXPECT_EQ(pair.second.receive(buffer).value(), 6u) << "what was sent before still arrives";
  EXPECT_EQ(pair.second.receive(buffer).value(), 0u);
  EXPECT_EQ(pair.first.receive(buffer).value(), 0u);
  EXPECT_EQ(pair.first.send(std::string_view("x")).error(), std::errc::broken_pipe);
  EXPECT_EQ(pair.second.send(std::string_view("x")).error(), std::errc::broken_pipe);
}

// ---- Byte ranges --------------------------------------------------------------------------

static_assert(byte_range<std::string>);
static_assert(byte_range<std::string_view>);
static_assert(byte_range<std::vector<char>>);
static_assert(byte_range<std::array<std::uint8_t, 16>>);
static_assert(byte_range<std::vector<std::byte>>);
static_assert(byte_range<std::span<const unsigned char>>);
static_assert(byte_range<std::uint8_t[4]>);
static_assert(!byte_range<char[6]>, "a string literal would send its NUL");
static_assert(!byte_range<std::vector<int>>, "elements wider than a byte");
static_assert(!byte_range<std::list<char>>, "not contiguous");
static_assert(!byte_range<std::vector<bool>>);
static_assert(writable_byte_range<std::string&>);
static_assert(writable_byte_range<std::array<std::uint8_t, 16>&>);
static_assert(writable_byte_range<char (&)[6]>);
static_assert(!writable_byte_range<const std::string&>, "receiving needs mutable elements");
static_assert(!writable_byte_range<std::string_view>);
static_assert(!writable_byte_range<std::span<const std::byte>>);

TEST(ByteRanges, AreViewedInPlaceWithoutCopies) {
  std::string text = "hello";
  std::vector<char> chars(4);
  std::array<std::uint8_t, 3> octets{};
  EXPECT_EQ(static_cast<const void*>(bytes_of(text).data()), text.data());
  EXPECT_EQ(bytes_of(text).size(), 5u);
  EXPECT_EQ(static_cast<void*>(writable_bytes_of(chars).data()), chars.data());
  EXPECT_EQ(static_cast<void*>(writable_bytes_of(octets).data()), octets.data());
  EXPECT_EQ(writable_bytes_of(octets).size(), 3u);
}

TEST(ByteRanges, StringVectorAndArraySendAndReceiveDirectly) {
  auto pair = socket_pair<stream>::create().value();
  const std::string text = "text";
  const std::vector<char> chars = {'c', 'h'};
  const std::array<std::uint8_t, 3> octets = {1, 2, 3};
  EXPECT_EQ(pair.first.send(text).value(), 4u);
  EXPECT_EQ(pair.first.send_all(chars).value(), 2u);
  outgoing octets_out(octets);
  EXPECT_EQ(pair.first.send_all(octets_out).value(), 3u);

  std::string text_in(4, '\0');
  std::vector<char> chars_in(2);
  std::array<std::uint8_t, 3> octets_in{};
  ASSERT_TRUE(pair.second.receive_exact(text_in));
  ASSERT_TRUE(pair.second.receive_exact(chars_in));
  incoming octets_into(octets_in);
  ASSERT_TRUE(pair.second.receive_exact(octets_into));
  EXPECT_EQ(text_in, text);
  EXPECT_EQ(chars_in, chars);
  EXPECT_EQ(octets_in, octets);
}

TEST(ByteRanges, MessageSocketsTakeThemToo) {
  auto pair = socket_pair<seqpacket>::create().value();
  ASSERT_TRUE(pair.first.send(std::string("message")));
  std::vector<char> in(16);
  auto got = pair.second.receive_message(in);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(in.data(), got.value().size), "message");
}

}  // namespace
}  // namespace sockpair::testing
