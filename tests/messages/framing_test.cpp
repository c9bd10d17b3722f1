// frame_writer / frame_reader: wire format, boundaries under arbitrary splits, limits, end of
// stream, and non-blocking behaviour, against real socket pairs and pipes.
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "tests/messages/test_streams.hpp"
#include "tests/support/environment.hpp"

namespace {

using sockpair::byte_stream;
using sockpair::errc;
using sockpair::fd_stream;
using sockpair::frame_reader;
using sockpair::frame_writer;
using sockpair::seqpacket;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::blockable_memory_stream;
using sockpair::testing::choppy_memory_stream;
using sockpair::testing::payload;
using sockpair::testing::reproducible_random;
using sockpair::testing::trickle_stream;

using frames = std::vector<std::vector<std::byte>>;

std::pair<socket<stream>, socket<stream>> stream_pair(sockpair::pair_options options = {}) {
  auto pair = socket_pair<stream>::create(options);
  EXPECT_TRUE(pair) << pair.error().message();
  auto [a, b] = std::move(pair).value();
  return {std::move(a), std::move(b)};
}

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) {
  return {v.data(), v.size()};
}

// Reads every frame up to a clean end; any error fails the test.
template <class Stream>
frames read_all(frame_reader<Stream>& reader) {
  frames got;
  for (;;) {
    auto frame = reader.read();
    if (!frame) {
      ADD_FAILURE() << "read: " << frame.error().message() << " after " << got.size() << " frames";
      return got;
    }
    if (!frame.value()) {
      return got;
    }
    got.emplace_back(frame.value()->begin(), frame.value()->end());
  }
}

template <class Stream>
void write_all(frame_writer<Stream>& writer, const frames& sent) {
  for (const auto& frame : sent) {
    auto written = writer.write(bytes_of(frame));
    ASSERT_TRUE(written) << written.error().message();
  }
  auto flushed = writer.flush();
  ASSERT_TRUE(flushed) << flushed.error().message();
  EXPECT_EQ(writer.pending_bytes(), 0U);
}

frames random_frames(std::mt19937& random, std::size_t count, std::size_t max_size) {
  frames out;
  for (std::size_t i = 0; i < count; ++i) {
    // Mostly tiny frames (empty ones included), some up to `max_size`.
    const std::size_t size = random() % 4 == 0
                                 ? std::uniform_int_distribution<std::size_t>(0, max_size)(random)
                                 : std::uniform_int_distribution<std::size_t>(0, 9)(random);
    out.push_back(payload(i, size));
  }
  return out;
}

TEST(ByteStream, SocketStreamsAndDescriptorsQualifyMessageSocketsDoNot) {
  static_assert(byte_stream<socket<stream>>);
  static_assert(byte_stream<fd_stream>);
  static_assert(!byte_stream<socket<seqpacket>>);
  static_assert(!byte_stream<socket<sockpair::dgram>>);
  static_assert(!byte_stream<int>);
  // Both have a gathered send, so a large frame goes out with the buffer, uncopied.
  static_assert(sockpair::detail::gathering_stream<socket<stream>>);
  static_assert(sockpair::detail::gathering_stream<fd_stream>);
  SUCCEED();
}

TEST(Framing, WireFormatIsAFourByteLittleEndianLengthThenThePayload) {
  auto [a, b] = stream_pair();
  frame_writer writer(a);
  const std::array<std::byte, 3> abc{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  const std::vector<std::byte> big(0x0102 + 3, std::byte{0x5A});
  ASSERT_TRUE(writer.write(abc));
  ASSERT_TRUE(writer.write({}));
  ASSERT_TRUE(writer.write(bytes_of(big)));
  ASSERT_TRUE(writer.flush());

  std::vector<std::byte> wire(4 + 3 + 4 + 4 + big.size());
  auto got = b.receive_exact(wire);
  ASSERT_TRUE(got) << got.error().message();
  std::vector<std::byte> expected = {
      std::byte{3},   std::byte{0},    std::byte{0},    std::byte{0}, std::byte{'a'},
      std::byte{'b'}, std::byte{'c'},  std::byte{0},    std::byte{0}, std::byte{0},
      std::byte{0},   std::byte{0x05}, std::byte{0x01}, std::byte{0}, std::byte{0}};
  expected.insert(expected.end(), big.begin(), big.end());
  EXPECT_EQ(wire, expected);
}

TEST(Framing, FramesRoundTripOverAStreamPairFromEmptyToTheMaximum) {
  auto [a, b] = stream_pair();
  const std::size_t max = sockpair::default_max_frame_size;
  frames sent;
  std::size_t index = 0;
  for (const std::size_t size : {0U, 1U, 3U, 4U, 5U, 64U, 4096U, 65535U, 65536U, 65537U, 200000U,
                                 static_cast<unsigned>(max), 0U, 7U}) {
    sent.push_back(payload(index++, size));
  }
  std::thread writer_thread([&, &a = a] {
    frame_writer writer(a);
    write_all(writer, sent);
    ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  });
  frame_reader reader(b);
  const frames got = read_all(reader);
  EXPECT_TRUE(b.shutdown(sockpair::shutdown_how::both));  // a failed read frees the writer
  writer_thread.join();
  EXPECT_EQ(got, sent);
}

TEST(Framing, BoundariesSurviveEverySplitOfTheStream) {
  // 300 seeds: the writer's stream takes 1..k bytes per send, the reader's returns 1..k per
  // receive, and the reader's buffer starts anywhere from 1 byte.
  for (std::uint32_t seed = 0; seed < 300; ++seed) {
    auto random = reproducible_random(seed);
    const frames sent = random_frames(random, 60, 700);
    choppy_memory_stream wire(seed, 1 + std::size_t{seed} % 97);
    frame_writer writer(wire, {.flush_threshold = random() % 2000});
    write_all(writer, sent);

    frame_reader reader(wire, {.read_size = 1 + random() % 300});
    const frames got = read_all(reader);
    ASSERT_EQ(got, sent) << "seed " << seed;
    EXPECT_EQ(reader.buffered_bytes(), 0U);
  }
}

TEST(Framing, ReaderWithAOneByteBufferAndOneByteReadsDeliversEveryFrame) {
  auto random = reproducible_random(7);
  const frames sent = random_frames(random, 200, 300);
  choppy_memory_stream wire(7, 1);
  frame_writer writer(wire);
  write_all(writer, sent);
  frame_reader reader(wire, {.read_size = 1});
  EXPECT_EQ(read_all(reader), sent);
}

TEST(Framing, BoundariesSurviveArbitrarySplitsThroughARealSocket) {
  // 20 seeds; 4 under tools/vm's emulation (SOCKPAIR_SLOW_MACHINE), where 20 take minutes.
  const std::uint32_t seeds = sockpair::testing::slow_machine() ? 4 : 20;
  for (std::uint32_t seed = 0; seed < seeds; ++seed) {
    auto random = reproducible_random(seed);
    const frames sent = random_frames(random, 400, 5000);
    auto [a, b] = stream_pair();
    std::thread writer_thread([&, &a = a] {
      trickle_stream out(a, seed, 1 + std::size_t{seed} * 37);
      frame_writer writer(out, {.flush_threshold = std::size_t{seed} * 100});
      write_all(writer, sent);
      ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
    });
    trickle_stream in(b, seed + 1000, 1 + std::size_t{seed} * 53);
    frame_reader reader(in, {.read_size = 1 + std::size_t{seed} * 211});
    const frames got = read_all(reader);
    EXPECT_TRUE(b.shutdown(sockpair::shutdown_how::both));  // a failed read frees the writer
    writer_thread.join();
    ASSERT_EQ(got, sent) << "seed " << seed;
  }
}

TEST(Framing, TheSameFramingRunsOverAPipe) {
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
  sockpair::unique_fd read_end(fds[0]);
  sockpair::unique_fd write_end(fds[1]);
  auto random = reproducible_random(3);
  const frames sent = random_frames(random, 500, 100000);
  std::thread writer_thread([&] {
    fd_stream out(write_end.get());
    frame_writer writer(out);
    write_all(writer, sent);
    write_end.reset();
  });
  fd_stream in(read_end.get());
  frame_reader reader(in);
  const frames got = read_all(reader);
  read_end.reset();  // a failed read frees the writer (EPIPE)
  writer_thread.join();
  EXPECT_EQ(got, sent);
}

// ---- Limits -----------------------------------------------------------------------------------

TEST(FramingLimits, WriterRefusesAFrameOverItsLimitAndKeepsNothingOfIt) {
  auto [a, b] = stream_pair();
  frame_writer writer(a, {.max_frame_size = 10});
  const std::vector<std::byte> ok(10);
  const std::vector<std::byte> too_big(11);
  ASSERT_TRUE(writer.write(bytes_of(ok)));
  const std::size_t pending = writer.pending_bytes();
  auto refused = writer.write(bytes_of(too_big));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::frame_too_large);
  EXPECT_EQ(refused.error(), std::errc::message_size);
  EXPECT_EQ(writer.pending_bytes(), pending);
}

TEST(FramingLimits, LimitsAreClampedToWhatTheLengthPrefixCanSay) {
  auto [a, b] = stream_pair();
  frame_writer writer(a, {.max_frame_size = std::size_t{1} << 40});
  frame_reader reader(b, {.max_frame_size = std::size_t{1} << 40, .read_size = 0});
  EXPECT_EQ(writer.options().max_frame_size, sockpair::max_frame_size_limit);
  EXPECT_EQ(reader.options().max_frame_size, sockpair::max_frame_size_limit);
  EXPECT_EQ(reader.options().read_size, 1U);
}

TEST(FramingLimits, ALengthOverTheReadersLimitFailsAfterEveryEarlierFrameAndStaysFailed) {
  blockable_memory_stream wire;
  wire.blocked = false;
  frame_writer writer(wire);
  const frames before = {payload(0, 50), payload(1, 100)};
  write_all(writer, before);
  ASSERT_TRUE(writer.write(bytes_of(payload(2, 101))));
  ASSERT_TRUE(writer.write(bytes_of(payload(3, 5))));
  ASSERT_TRUE(writer.flush());

  frame_reader reader(wire, {.max_frame_size = 100});
  for (const auto& expected : before) {
    auto frame = reader.read();
    ASSERT_TRUE(frame && frame.value());
    EXPECT_EQ(std::vector<std::byte>(frame.value()->begin(), frame.value()->end()), expected);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto frame = reader.read();
    ASSERT_FALSE(frame);
    EXPECT_EQ(frame.error(), errc::frame_too_large);
    // The offending frame and the one after it are still buffered, unconsumed.
    EXPECT_EQ(reader.buffered_bytes(), 4U + 101U + 4U + 5U);
  }
}

TEST(FramingLimits, AHostileLengthIsRefusedAsSoonAsItsPrefixArrives) {
  auto [a, b] = stream_pair();
  const std::array<std::byte, 4> prefix{std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF},
                                        std::byte{0x7F}};
  ASSERT_TRUE(a.send_all(prefix));
  // The peer never sends a payload and keeps the stream open: the reader must not wait for it.
  frame_reader reader(b);
  auto frame = reader.read();
  ASSERT_FALSE(frame);
  EXPECT_EQ(frame.error(), errc::frame_too_large);
}

TEST(FramingLimits, AFrameOfExactlyTheLimitIsAccepted) {
  blockable_memory_stream wire;
  wire.blocked = false;
  frame_writer writer(wire, {.max_frame_size = 1000});
  const frames sent = {payload(0, 1000)};
  write_all(writer, sent);
  frame_reader reader(wire, {.max_frame_size = 1000, .read_size = 16});
  EXPECT_EQ(read_all(reader), sent);
}

// ---- End of stream ----------------------------------------------------------------------------

TEST(FramingEnd, AStreamEndingBetweenFramesIsACleanEndEveryTime) {
  auto [a, b] = stream_pair();
  frame_writer writer(a);
  const frames sent = {payload(0, 3), payload(1, 0)};
  write_all(writer, sent);
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  frame_reader reader(b);
  EXPECT_EQ(read_all(reader), sent);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto frame = reader.read();
    ASSERT_TRUE(frame);
    EXPECT_FALSE(frame.value().has_value());
  }
}

void expect_unexpected_eof_after(std::size_t extra_bytes, const char* where) {
  SCOPED_TRACE(where);
  auto [a, b] = stream_pair();
  frame_writer writer(a);
  const frames sent = {payload(0, 20), payload(1, 0), payload(2, 7)};
  write_all(writer, sent);
  // The start of one more frame of 10 bytes: `extra_bytes` of its prefix and payload.
  std::vector<std::byte> partial = {std::byte{10}, std::byte{0}, std::byte{0}, std::byte{0}};
  const auto body = payload(3, 10);
  partial.insert(partial.end(), body.begin(), body.end());
  partial.resize(extra_bytes);
  ASSERT_TRUE(a.send_all(partial));
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));

  frame_reader reader(b, {.read_size = 5});
  for (const auto& expected : sent) {
    auto frame = reader.read();
    ASSERT_TRUE(frame) << frame.error().message();
    ASSERT_TRUE(frame.value());
    EXPECT_EQ(std::vector<std::byte>(frame.value()->begin(), frame.value()->end()), expected);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto frame = reader.read();
    ASSERT_FALSE(frame);
    EXPECT_EQ(frame.error(), errc::unexpected_eof);
    EXPECT_EQ(reader.buffered_bytes(), extra_bytes);
  }
}

TEST(FramingEnd, AStreamEndingInsideALengthPrefixIsUnexpectedEof) {
  expect_unexpected_eof_after(1, "1 byte of the prefix");
  expect_unexpected_eof_after(3, "3 bytes of the prefix");
}

TEST(FramingEnd, AStreamEndingInsideAPayloadIsUnexpectedEof) {
  expect_unexpected_eof_after(4, "the prefix alone");
  expect_unexpected_eof_after(13, "9 of 10 payload bytes");
}

// ---- Would-block and errors -------------------------------------------------------------------

TEST(FramingNonBlocking, AReaderMeetingWouldBlockMidFrameResumesWithNothingLost) {
  blockable_memory_stream wire;
  wire.blocked = false;
  frame_writer writer(wire);
  const frames sent = {payload(0, 5), payload(1, 300), payload(2, 1)};
  write_all(writer, sent);
  const std::vector<std::byte> all = wire.bytes;
  wire.bytes.assign(all.begin(), all.begin() + 4 + 5 + 4 + 100);  // frame 1 half there
  wire.blocked = true;

  frame_reader reader(wire, {.read_size = 64});
  auto first = reader.read();
  ASSERT_TRUE(first && first.value());
  EXPECT_EQ(first.value()->size(), 5U);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto blocked = reader.read();
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error(), std::errc::operation_would_block);
    EXPECT_EQ(reader.buffered_bytes(), 4U + 100U);
  }
  wire.bytes = all;
  wire.blocked = false;
  const frames rest = read_all(reader);
  EXPECT_EQ(rest, frames(sent.begin() + 1, sent.end()));
}

TEST(FramingNonBlocking, ANonBlockingSocketReaderReturnsWouldBlockThenTheFrame) {
  auto [a, b] = stream_pair({.nonblocking = true});
  std::vector<std::byte> wire = {std::byte{6}, std::byte{0}, std::byte{0}, std::byte{0}};
  const auto body = payload(0, 6);
  wire.insert(wire.end(), body.begin(), body.end());
  ASSERT_TRUE(a.send_all(std::span(wire).first(6)));

  frame_reader reader(b);
  auto blocked = reader.read();
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error(), std::errc::operation_would_block);
  ASSERT_TRUE(a.send_all(std::span(wire).subspan(6)));
  auto frame = reader.read();
  ASSERT_TRUE(frame && frame.value()) << (frame ? "end" : frame.error().message());
  EXPECT_EQ(std::vector<std::byte>(frame.value()->begin(), frame.value()->end()), body);
}

// Shrinks a socket's send buffer so that a non-blocking writer fills it quickly.
void shrink_send_buffer(const socket<stream>& s) {
  const int size = 4096;
  ASSERT_EQ(::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
}

TEST(FramingNonBlocking, FlushKeepsTheUnsentBytesAndALaterFlushResumesExactly) {
  auto [a, b] = stream_pair({.nonblocking = true});
  shrink_send_buffer(a);
  frame_writer writer(a, {.flush_threshold = std::size_t{1} << 30});
  auto random = reproducible_random(11);
  const frames sent = random_frames(random, 400, 3000);
  std::size_t wire_bytes = 0;
  for (const auto& frame : sent) {
    ASSERT_TRUE(writer.write(bytes_of(frame)));
    wire_bytes += 4 + frame.size();
  }
  EXPECT_EQ(writer.pending_bytes(), wire_bytes);  // under the threshold: nothing sent yet

  frame_reader reader(b);
  frames got;
  int would_blocks = 0;
  for (;;) {
    auto flushed = writer.flush();
    if (flushed) {
      break;
    }
    ASSERT_EQ(flushed.error(), std::errc::operation_would_block) << flushed.error().message();
    ++would_blocks;
    ASSERT_GT(writer.pending_bytes(), 0U);
    ASSERT_LT(writer.pending_bytes(), wire_bytes);
    for (;;) {  // drain what the socket holds
      auto frame = reader.read();
      if (!frame) {
        ASSERT_EQ(frame.error(), std::errc::operation_would_block);
        break;
      }
      ASSERT_TRUE(frame.value());
      got.emplace_back(frame.value()->begin(), frame.value()->end());
    }
  }
  EXPECT_GT(would_blocks, 0);
  EXPECT_EQ(writer.pending_bytes(), 0U);
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  ASSERT_EQ(::fcntl(b.native_handle(), F_SETFL, 0), 0);  // now wait for the rest
  const frames rest = read_all(reader);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, sent);
}

TEST(FramingNonBlocking, WriteRefusesANewFrameWhileAFullBacklogCannotBeSent) {
  auto [a, b] = stream_pair({.nonblocking = true});
  shrink_send_buffer(a);
  const std::size_t threshold = 1024;
  frame_writer writer(a, {.flush_threshold = threshold});
  frames accepted;
  std::vector<std::byte> refused;
  for (std::size_t i = 0; i < 100000; ++i) {
    auto frame = payload(i, 100 + i % 300);
    const std::size_t pending = writer.pending_bytes();
    auto written = writer.write(bytes_of(frame));
    if (!written) {
      EXPECT_EQ(written.error(), std::errc::operation_would_block);
      EXPECT_EQ(writer.pending_bytes(), pending);  // nothing of the refused frame kept
      EXPECT_GE(pending, threshold);
      refused = frame;
      break;
    }
    accepted.push_back(std::move(frame));
  }
  ASSERT_FALSE(refused.empty()) << "the socket never filled";
  // The backlog stays within the documented bound.
  EXPECT_LE(writer.pending_bytes(), threshold + 4 + sockpair::default_max_frame_size);

  std::thread reader_thread([&, &b = b] {
    ASSERT_EQ(::fcntl(b.native_handle(), F_SETFL, 0), 0);
    frame_reader reader(b);
    const frames got = read_all(reader);
    frames expected = accepted;
    expected.push_back(refused);
    EXPECT_EQ(got, expected);
  });
  ASSERT_EQ(::fcntl(a.native_handle(), F_SETFL, 0), 0);  // blocking again: the reader drains
  ASSERT_TRUE(writer.write(bytes_of(refused)));          // the refused frame, written again
  ASSERT_TRUE(writer.flush());
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  reader_thread.join();
}

// Writes frames of up to 20 KB through a non-blocking writer with a small threshold, so that
// the gathered writes (buffer + frame) stop partway again and again, draining the reader
// whenever the writer meets would-block. Every frame must arrive once, in order.
template <class Writer, class Reader>
void expect_partial_gathered_writes_lose_nothing(Writer& writer, Reader& reader) {
  auto random = reproducible_random(5);
  const frames sent = random_frames(random, 600, 20000);
  frames got;
  int would_blocks = 0;
  auto drain = [&] {
    for (;;) {
      auto frame = reader.read();
      if (!frame) {
        ASSERT_EQ(frame.error(), std::errc::operation_would_block) << frame.error().message();
        return;
      }
      ASSERT_TRUE(frame.value());
      got.emplace_back(frame.value()->begin(), frame.value()->end());
    }
  };
  for (std::size_t i = 0; i < sent.size();) {
    auto written = writer.write(bytes_of(sent[i]));
    if (written) {
      ++i;
      continue;
    }
    ASSERT_EQ(written.error(), std::errc::operation_would_block);
    ++would_blocks;
    drain();
  }
  while (!writer.flush()) {
    ++would_blocks;
    drain();
  }
  drain();
  EXPECT_GT(would_blocks, 0);
  EXPECT_EQ(got, sent);
}

TEST(FramingNonBlocking, GatheredWritesThatStopPartwayKeepExactlyTheRestOnASocket) {
  auto [a, b] = stream_pair({.nonblocking = true});
  shrink_send_buffer(a);
  frame_writer writer(a, {.flush_threshold = 1000});
  frame_reader reader(b, {.read_size = 3000});
  expect_partial_gathered_writes_lose_nothing(writer, reader);
}

TEST(FramingNonBlocking, GatheredWritesThatStopPartwayKeepExactlyTheRestOnAPipe) {
  std::array<int, 2> fds{};
  ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK), 0);
  sockpair::unique_fd read_end(fds[0]);
  sockpair::unique_fd write_end(fds[1]);
  ASSERT_GT(::fcntl(fds[1], F_SETPIPE_SZ, 4096), 0);
  fd_stream out(write_end.get());
  fd_stream in(read_end.get());
  frame_writer writer(out, {.flush_threshold = 1000});
  frame_reader reader(in, {.read_size = 3000});
  expect_partial_gathered_writes_lose_nothing(writer, reader);
}

TEST(FramingErrors, AnErrorFromTheSendAFrameTriggeredIsReportedByTheNextCall) {
  auto [a, b] = stream_pair();
  ASSERT_TRUE(b.close());
  // Threshold 0: every write sends at once. The peer is gone: EPIPE, and no SIGPIPE kills us.
  frame_writer writer(a, {.flush_threshold = 0});
  const auto frame = payload(0, 10);
  ASSERT_TRUE(writer.write(bytes_of(frame)));  // accepted; the send failed
  EXPECT_EQ(writer.pending_bytes(), 14U);
  auto flushed = writer.flush();
  ASSERT_FALSE(flushed);
  EXPECT_EQ(flushed.error(), std::errc::broken_pipe);
  auto refused = writer.write(bytes_of(frame));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::broken_pipe);
  EXPECT_EQ(writer.pending_bytes(), 14U);
}

TEST(FramingErrors, ALargeFrameToAClosedPeerFailsWithEpipeNotSigpipe) {
  auto [a, b] = stream_pair();
  ASSERT_TRUE(b.close());
  frame_writer writer(a);  // a 200 KB frame goes out in a gathered write
  ASSERT_TRUE(writer.write(bytes_of(payload(0, 200000))));
  auto flushed = writer.flush();
  ASSERT_FALSE(flushed);
  EXPECT_EQ(flushed.error(), std::errc::broken_pipe);
}

TEST(Framing, AMovedReaderKeepsItsFramesAndAMovedWriterItsPendingBytes) {
  blockable_memory_stream wire;
  wire.blocked = false;
  frame_writer first_writer(wire);
  ASSERT_TRUE(first_writer.write(bytes_of(payload(0, 9))));
  frame_writer writer(std::move(first_writer));
  EXPECT_EQ(writer.pending_bytes(), 13U);
  ASSERT_TRUE(writer.write(bytes_of(payload(1, 2))));
  ASSERT_TRUE(writer.flush());

  frame_reader first_reader(wire);
  auto frame = first_reader.read();
  ASSERT_TRUE(frame && frame.value());
  const auto span = *frame.value();
  frame_reader reader(std::move(first_reader));
  EXPECT_EQ(std::vector<std::byte>(span.begin(), span.end()), payload(0, 9));
  EXPECT_EQ(read_all(reader), frames{payload(1, 2)});
}

}  // namespace
