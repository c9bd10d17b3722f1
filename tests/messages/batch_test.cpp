// send_batch / receive_batch on seqpacket and dgram pairs: boundaries, per-message truncation,
// exact partial counts, the per-call maximum, errors. Every behaviour is checked for both
// implementations: sendmmsg/recvmmsg (Linux) and the one-call-per-message loop used elsewhere.
#include <socketpair/batch.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using sockpair::dgram;
using sockpair::message_info;
using sockpair::seqpacket;
using sockpair::socket;
using sockpair::socket_pair;

// One test type = (socket type, implementation).
template <class Type, class Io>
struct variant {
  using type = Type;
  using io = Io;
};

#if defined(__linux__)
using Variants = ::testing::Types<variant<seqpacket, sockpair::detail::batch_syscalls>,
                                  variant<dgram, sockpair::detail::batch_syscalls>,
                                  variant<seqpacket, sockpair::detail::batch_per_message>,
                                  variant<dgram, sockpair::detail::batch_per_message>>;
#else
using Variants = ::testing::Types<variant<seqpacket, sockpair::detail::batch_per_message>,
                                  variant<dgram, sockpair::detail::batch_per_message>>;
#endif

// Message `i` of a test: `size` bytes starting with the 4-byte index, then a pattern.
std::vector<std::byte> message(std::uint32_t i, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t k = 0; k < size; ++k) {
    bytes[k] = static_cast<std::byte>((std::size_t{i} * 31 + k) & 0xFFU);
  }
  std::memcpy(bytes.data(), &i, std::min(size, sizeof i));
  return bytes;
}

template <class V>
class Batch : public ::testing::Test {
 protected:
  using type = typename V::type;
  using io = typename V::io;

  void SetUp() override { make_pair({}); }

  void make_pair(sockpair::pair_options options) {
    auto pair = socket_pair<type>::create(options);
    ASSERT_TRUE(pair) << pair.error().message();
    a_ = std::move(pair.value().first);
    b_ = std::move(pair.value().second);
  }

  // The sending end's descriptor.
  [[nodiscard]] int sender_fd() const { return a_.native_handle(); }

  void set_send_buffer(int size) {
    ASSERT_EQ(::setsockopt(a_.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  }

  // Sends on the first end, through the implementation under test.
  sockpair::result<std::size_t> send(std::span<const std::span<const std::byte>> messages) {
    return io::send(a_.native_handle(), messages);
  }

  // Receives on the second end, through the implementation under test.
  sockpair::result<std::size_t> receive(std::span<const std::span<std::byte>> buffers,
                                        std::span<message_info> results) {
    return io::receive(b_.native_handle(), buffers, results);
  }

  // Receives exactly `count` messages (blocking), each into a buffer of `capacity` bytes.
  std::vector<std::vector<std::byte>> receive_messages(std::size_t count, std::size_t capacity) {
    std::vector<std::vector<std::byte>> storage(count, std::vector<std::byte>(capacity));
    std::vector<std::span<std::byte>> buffers(storage.begin(), storage.end());
    std::vector<message_info> results(count);
    std::size_t done = 0;
    while (done < count) {
      auto got = receive(std::span(buffers).subspan(done), std::span(results).subspan(done));
      if (!got) {
        ADD_FAILURE() << "receive: " << got.error().message();
        break;
      }
      done += got.value();
    }
    for (std::size_t i = 0; i < done; ++i) {
      EXPECT_FALSE(results[i].truncated());
      storage[i].resize(results[i].stored);
    }
    storage.resize(done);
    return storage;
  }

 private:
  socket<type> a_;
  socket<type> b_;
};
TYPED_TEST_SUITE(Batch, Variants);

std::vector<std::span<const std::byte>> spans_of(const std::vector<std::vector<std::byte>>& v) {
  return {v.begin(), v.end()};
}

TYPED_TEST(Batch, ManyMessagesArriveWholeInOrderWithTheirOwnSizes) {
  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < 150; ++i) {  // more than one system call's worth (64)
    sent.push_back(message(i, 4 + (i * 37) % 500));
  }
  const auto spans = spans_of(sent);
  auto count = this->send(spans);
  ASSERT_TRUE(count) << count.error().message();
  ASSERT_EQ(count.value(), sent.size());
  EXPECT_EQ(this->receive_messages(sent.size(), 600), sent);
}

TYPED_TEST(Batch, EmptyMessagesKeepTheirPlace) {
  const std::vector<std::vector<std::byte>> sent = {message(1, 8), {}, message(2, 8)};
  const auto spans = spans_of(sent);
  auto count = this->send(spans);
  ASSERT_TRUE(count);
  ASSERT_EQ(count.value(), 3U);
  EXPECT_EQ(this->receive_messages(3, 16), sent);
}

TYPED_TEST(Batch, EachReceivedMessageReportsItsSizeAndWhetherItWasTruncated) {
  const std::vector<std::vector<std::byte>> sent = {message(0, 10), message(1, 100), message(2, 50),
                                                    message(3, 51)};
  const auto spans = spans_of(sent);
  ASSERT_EQ(this->send(spans).value(), 4U);

  std::array<std::array<std::byte, 50>, 4> storage{};
  std::array<std::span<std::byte>, 4> buffers{storage[0], storage[1], storage[2], storage[3]};
  std::array<message_info, 4> results{};
  std::size_t done = 0;
  while (done < 4) {
    auto got = this->receive(std::span(buffers).subspan(done), std::span(results).subspan(done));
    ASSERT_TRUE(got) << got.error().message();
    done += got.value();
  }
  const std::array<std::size_t, 4> stored = {10, 50, 50, 50};
  const std::array<bool, 4> truncated = {false, true, false, true};
  for (std::size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(results[i].stored, stored[i]);
    EXPECT_EQ(results[i].truncated(), truncated[i]);
    EXPECT_EQ(0, std::memcmp(storage[i].data(), sent[i].data(), stored[i]));
#if defined(__linux__)
    EXPECT_EQ(results[i].size, sent[i].size());
#endif
  }
}

TYPED_TEST(Batch, ReceiveWaitsForOneMessageThenTakesOnlyWhatIsQueued) {
  const std::vector<std::vector<std::byte>> sent = {message(0, 4), message(1, 4), message(2, 4)};
  const auto spans = spans_of(sent);
  ASSERT_EQ(this->send(spans).value(), 3U);
  std::array<std::array<std::byte, 8>, 10> storage{};
  std::vector<std::span<std::byte>> buffers(storage.begin(), storage.end());
  std::array<message_info, 10> results{};
  auto got = this->receive(buffers, results);  // blocking socket: must not wait for 10
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value(), 3U);

  std::thread late_sender([this] {
    const auto late = message(9, 4);
    const std::array<std::span<const std::byte>, 1> one{late};
    EXPECT_EQ(this->send(one).value(), 1U);
  });
  got = this->receive(buffers, results);  // waits for the late message
  late_sender.join();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value(), 1U);
  EXPECT_EQ(0, std::memcmp(storage[0].data(), message(9, 4).data(), 4));
}

TYPED_TEST(Batch, NonBlockingReceiveWithNothingQueuedIsWouldBlock) {
  this->make_pair({.nonblocking = true});
  std::array<std::byte, 8> storage{};
  const std::array<std::span<std::byte>, 1> buffers{storage};
  std::array<message_info, 1> results{};
  auto got = this->receive(buffers, results);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_would_block);
}

TYPED_TEST(Batch, APartialSendReportsExactlyHowManyWentOutAndResumes) {
  this->make_pair({.nonblocking = true});
  this->set_send_buffer(16384);
  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < 600; ++i) {
    sent.push_back(message(i, 1000));
  }
  const auto spans = spans_of(sent);
  std::vector<std::vector<std::byte>> got;
  std::size_t done = 0;
  int partial_sends = 0;
  while (done < sent.size()) {
    auto count = this->send(std::span(spans).subspan(done));
    if (count) {
      ASSERT_GT(count.value(), 0U);
      if (done + count.value() < sent.size()) {
        ++partial_sends;
      }
      done += count.value();
      // Exactly `count` more messages are queued: all of them and nothing else arrives.
      const std::size_t expected = got.size() + count.value();
      while (got.size() < expected) {
        std::array<std::array<std::byte, 1000>, 64> storage{};
        std::vector<std::span<std::byte>> buffers(storage.begin(), storage.end());
        std::array<message_info, 64> results{};
        auto received = this->receive(buffers, results);
        ASSERT_TRUE(received) << received.error().message();
        for (std::size_t i = 0; i < received.value(); ++i) {
          got.emplace_back(storage[i].begin(), storage[i].begin() + results[i].stored);
        }
      }
      ASSERT_EQ(got.size(), expected);
      std::array<std::byte, 1000> spare{};
      const std::array<std::span<std::byte>, 1> one{spare};
      std::array<message_info, 1> result{};
      auto nothing_more = this->receive(one, result);
      ASSERT_FALSE(nothing_more);
      EXPECT_EQ(nothing_more.error(), std::errc::operation_would_block);
    } else {
      FAIL() << "send with an empty queue: " << count.error().message();
    }
  }
  EXPECT_GT(partial_sends, 0) << "the send buffer never filled";
  EXPECT_EQ(got, sent);
}

TYPED_TEST(Batch, ASendThatMovesNothingIsAnErrorAndNothingIsSent) {
  this->make_pair({.nonblocking = true});
  this->set_send_buffer(16384);
  const auto big = message(0, 1000);
  std::vector<std::span<const std::byte>> spans(600, big);
  auto first = this->send(spans);
  ASSERT_TRUE(first);
  ASSERT_LT(first.value(), spans.size());
  auto full = this->send(std::span(spans).subspan(first.value()));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), std::errc::operation_would_block);
}

TYPED_TEST(Batch, AMessageTheKernelRefusesEndsTheBatchAndTheNextCallReportsIt) {
  this->set_send_buffer(4096);
  const auto small = message(0, 8);
  const std::vector<std::byte> huge(1 << 20);
  const std::array<std::span<const std::byte>, 3> spans{small, huge, small};
  auto count = this->send(spans);
  ASSERT_TRUE(count) << count.error().message();
  EXPECT_EQ(count.value(), 1U);
  auto refused = this->send(std::span(spans).subspan(1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::message_size);
  auto rest = this->send(std::span(spans).subspan(2));
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest.value(), 1U);
  EXPECT_EQ(this->receive_messages(2, 16), (std::vector<std::vector<std::byte>>{small, small}));
}

TYPED_TEST(Batch, AnEmptyBatchSendsAndReceivesNothing) {
  auto sent = this->send({});
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent.value(), 0U);
  auto got = this->receive({}, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value(), 0U);
}

TYPED_TEST(Batch, FewerResultSlotsThanBuffersIsInvalidArgument) {
  std::array<std::byte, 8> storage{};
  const std::array<std::span<std::byte>, 2> buffers{storage, storage};
  std::array<message_info, 1> results{};
  auto got = this->receive(buffers, results);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::invalid_argument);
}

TYPED_TEST(Batch, OneCallMovesAtMostMaxBatchSizeMessages) {
  // Enough send buffer to queue more than max_batch_size small messages at once.
  this->set_send_buffer(4 << 20);
  int size = 0;
  socklen_t length = sizeof size;
  ASSERT_EQ(::getsockopt(this->sender_fd(), SOL_SOCKET, SO_SNDBUF, &size, &length), 0);
  if (size < (2 << 20)) {
    GTEST_SKIP() << "SO_SNDBUF is capped at " << size << " (net.core.wmem_max)";
  }
  const std::size_t n = sockpair::max_batch_size + 300;
  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < n; ++i) {
    sent.push_back(message(i, 8));
  }
  const auto spans = spans_of(sent);
  auto first = this->send(spans);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first.value(), sockpair::max_batch_size);
  auto second = this->send(std::span(spans).subspan(first.value()));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second.value(), 300U);

  std::vector<std::array<std::byte, 8>> storage(n);
  std::vector<std::span<std::byte>> buffers(storage.begin(), storage.end());
  std::vector<message_info> results(n);
  auto got = this->receive(buffers, results);  // all n are queued
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value(), sockpair::max_batch_size);
  EXPECT_EQ(0, std::memcmp(storage[sockpair::max_batch_size - 1].data(),
                           sent[sockpair::max_batch_size - 1].data(), 8));
  EXPECT_EQ(
      this->receive_messages(300, 8),
      std::vector<std::vector<std::byte>>(sent.begin() + sockpair::max_batch_size, sent.end()));
}

// ---- Behaviour specific to one socket type, through the public functions ----------------------

TEST(BatchSeqpacket, SendingToAClosedPeerIsEpipeWithoutSigpipe) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  ASSERT_TRUE(b.close());
  const auto m = message(0, 8);
  const std::array<std::span<const std::byte>, 2> spans{m, m};
  auto sent = sockpair::send_batch(a, spans);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

TEST(BatchSeqpacket, EndOfStreamReadsAsEmptyMessagesInEverySlot) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  const auto m = message(0, 8);
  const std::array<std::span<const std::byte>, 1> spans{m};
  ASSERT_EQ(sockpair::send_batch(a, spans).value(), 1U);
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));

  std::array<std::array<std::byte, 8>, 4> storage{};
  std::array<std::span<std::byte>, 4> buffers{storage[0], storage[1], storage[2], storage[3]};
  std::array<message_info, 4> results{};
  auto got = sockpair::receive_batch(b, buffers, results);
  ASSERT_TRUE(got);
  ASSERT_EQ(got.value(), 4U);
  EXPECT_EQ(results[0].stored, 8U);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(results[i].stored, 0U);
    EXPECT_FALSE(results[i].truncated());
  }
}

template <class Socket>
concept has_batches = requires(Socket& s, std::span<const std::span<const std::byte>> out,
                               std::span<const std::span<std::byte>> in,
                               std::span<message_info> results) {
  sockpair::send_batch(s, out);
  sockpair::receive_batch(s, in, results);
};

TEST(BatchApi, OnlyMessageSocketsHaveBatches) {
  static_assert(has_batches<socket<seqpacket>>);
  static_assert(has_batches<socket<dgram>>);
  static_assert(!has_batches<socket<sockpair::stream>>);
  SUCCEED();
}

TEST(BatchApi, PublicFunctionsRoundTripOnADgramPair) {
  auto pair = socket_pair<dgram>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  const auto m0 = message(0, 3);
  const auto m1 = message(1, 70);
  const std::array<std::span<const std::byte>, 2> out{m0, m1};
  auto sent = sockpair::send_batch(a, out);
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent.value(), 2U);
  std::array<std::array<std::byte, 64>, 2> storage{};
  const std::array<std::span<std::byte>, 2> in{storage[0], storage[1]};
  std::array<message_info, 2> results{};
  std::size_t done = 0;
  while (done < 2) {
    auto got =
        sockpair::receive_batch(b, std::span(in).subspan(done), std::span(results).subspan(done));
    ASSERT_TRUE(got);
    done += got.value();
  }
  EXPECT_EQ(results[0].stored, 3U);
  EXPECT_FALSE(results[0].truncated());
  EXPECT_EQ(results[1].stored, 64U);
  EXPECT_TRUE(results[1].truncated());
  EXPECT_EQ(0, std::memcmp(storage[1].data(), m1.data(), 64));
}

}  // namespace
