// Descriptors that arrive where the receiver asked for none (a plain receive, receive_message,
// receive_batch) are never lost silently: the kernel would drop them and set MSG_CTRUNC, which
// recv(2) cannot report. Each receive says so, and no descriptor stays open in the receiver.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::errc;
using sockpair::message_info;
using sockpair::send_with_fds;
using sockpair::seqpacket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::bytes_of;
using sockpair::testing::make_pipe;
using sockpair::testing::open_fds;
using sockpair::testing::pipe_ends;
using sockpair::testing::text_of;

// After the sender closed its own copy of `pipe.write` (which it sent), the pipe's reader
// sees EOF at once only if no copy is left anywhere: in flight, or in this process.
bool every_copy_of_the_write_end_is_closed(pipe_ends& pipe) {
  pollfd p{pipe.read.get(), POLLIN, 0};
  return ::poll(&p, 1, 10'000) == 1 && (p.revents & POLLHUP) != 0;  // a watchdog, not a timing
}

template <class Pair>
struct sent_with_a_descriptor {
  Pair pair;
  pipe_ends pipe = make_pipe();
};

// `text` from a.first with the write end of a new pipe attached; the sender's copy is closed.
template <class Type>
sent_with_a_descriptor<socket_pair<Type>> send_text_and_descriptor(std::string_view text) {
  sent_with_a_descriptor<socket_pair<Type>> s{socket_pair<Type>::create().value()};
  EXPECT_TRUE(send_with_fds(s.pair.first, bytes_of(text), {s.pipe.write.get()}));
  EXPECT_TRUE(s.pipe.write.close());
  return s;
}

TEST(UnexpectedDescriptors, AStreamReceiveReportsThemInsteadOfDroppingThemSilently) {
  auto s = send_text_and_descriptor<stream>("abc");
  const auto before = open_fds();
  std::array<std::byte, 16> buffer{};
  auto got = s.pair.second.receive(buffer);
  ASSERT_FALSE(got) << "received " << got.value() << " bytes; the descriptor vanished unreported";
  EXPECT_EQ(got.error(), errc::descriptors_discarded);
  EXPECT_EQ(text_of(buffer, 3), "abc") << "the bytes themselves were delivered";
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(every_copy_of_the_write_end_is_closed(s.pipe));
}

TEST(UnexpectedDescriptors, ReceiveExactReportsThemWithExactProgress) {
  auto s = send_text_and_descriptor<stream>("abcd");
  ASSERT_TRUE(s.pair.first.send(std::string_view("ef")));
  std::array<std::byte, 6> buffer{};
  std::span<std::byte> whole(buffer);
  auto got = s.pair.second.receive_exact(whole);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::descriptors_discarded);
  EXPECT_EQ(text_of(buffer, 4), "abcd");
  EXPECT_TRUE(every_copy_of_the_write_end_is_closed(s.pipe));
}

TEST(UnexpectedDescriptors, AMessageReceiveFailsSayingSo) {
  auto s = send_text_and_descriptor<seqpacket>("message");
  ASSERT_TRUE(s.pair.first.send(std::string_view("next")));
  std::array<std::byte, 16> buffer{};
  auto got = s.pair.second.receive(buffer);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::descriptors_discarded);
  EXPECT_TRUE(every_copy_of_the_write_end_is_closed(s.pipe));
  auto next = s.pair.second.receive(buffer);  // the next message is intact
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(text_of(buffer, next.value()), "next");
}

TEST(UnexpectedDescriptors, ReceiveMessageFlagsThemInItsInfo) {
  auto s = send_text_and_descriptor<seqpacket>("message");
  std::array<std::byte, 16> buffer{};
  auto got = s.pair.second.receive_message(buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().stored, 7U);
  EXPECT_TRUE(got.value().descriptors_discarded);
  EXPECT_TRUE(every_copy_of_the_write_end_is_closed(s.pipe));
}

TEST(UnexpectedDescriptors, PeekLeavesThemQueuedAndOpensNone) {
  auto s = send_text_and_descriptor<seqpacket>("message");
  const auto before = open_fds();
  std::array<std::byte, 16> buffer{};
  auto peeked = s.pair.second.peek(buffer);
  ASSERT_TRUE(peeked) << peeked.error().message();
  EXPECT_FALSE(peeked.value().descriptors_discarded) << "a peek discards nothing";
  EXPECT_EQ(open_fds(), before);
  auto got = sockpair::receive_with_fds<1>(s.pair.second, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().fds.size(), 1U) << "still queued after the peek";
}

TEST(UnexpectedDescriptors, ReceiveBatchFlagsTheMessagesThatCarriedThem) {
  socket_pair<seqpacket> pair = socket_pair<seqpacket>::create().value();
  pipe_ends pipe = make_pipe();
  ASSERT_TRUE(pair.first.send(std::string_view("plain")));
  ASSERT_TRUE(send_with_fds(pair.first, bytes_of("rider"), {pipe.write.get()}));
  ASSERT_TRUE(pair.first.send(std::string_view("after")));
  ASSERT_TRUE(pipe.write.close());
  std::array<std::array<std::byte, 16>, 3> storage{};
  const std::array<std::span<std::byte>, 3> buffers = {storage[0], storage[1], storage[2]};
  std::array<message_info, 3> results{};
  auto got = sockpair::receive_batch(pair.second, buffers, results);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value(), 3U);
  EXPECT_FALSE(results[0].descriptors_discarded);
  EXPECT_TRUE(results[1].descriptors_discarded);
  EXPECT_FALSE(results[2].descriptors_discarded);
  EXPECT_EQ(text_of(storage[1], results[1].stored), "rider");
  sent_with_a_descriptor<socket_pair<seqpacket>> left{std::move(pair), std::move(pipe)};
  EXPECT_TRUE(every_copy_of_the_write_end_is_closed(left.pipe));
}

TEST(UnexpectedDescriptors, CredentialsAloneAreNotMistakenForDiscardedDescriptors) {
  // With SO_PASSCRED on, every message carries credentials: a plain receive has no room for
  // them either, and that is no loss.
  auto pair = socket_pair<seqpacket>::create().value();
  ASSERT_TRUE(sockpair::set_receive_credentials(pair.second, true));
  ASSERT_TRUE(pair.first.send(std::string_view("hello")));
  std::array<std::byte, 16> buffer{};
  auto got = pair.second.receive_message(buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(got.value().descriptors_discarded);
  auto stream_pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(sockpair::set_receive_credentials(stream_pair.second, true));
  ASSERT_TRUE(stream_pair.first.send(std::string_view("hello")));
  auto bytes = stream_pair.second.receive(buffer);
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(bytes.value(), 5U);
}

}  // namespace
