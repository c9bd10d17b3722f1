// shm_channel between threads of one process: messages, zero-copy, bulk bytes, deadlines,
// sleeping and waking, the end of the stream, ownership. Real pairs, real memfds.
#include <socketpair/deadline.hpp>
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/shm/shm_support.hpp"

namespace sockpair::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto watchdog = 60s;  // against hangs only; no test asserts a timing

template <class Type>
class ShmChannel : public ::testing::Test {};
using bootstrap_types = ::testing::Types<stream, seqpacket>;
struct bootstrap_names {
  template <class Type>
  static std::string GetName(int) {
    return std::same_as<Type, stream> ? "over_stream" : "over_seqpacket";
  }
};
TYPED_TEST_SUITE(ShmChannel, bootstrap_types, bootstrap_names);

// Sends `count` messages from `from` while `to` checks each; returns the first problem.
std::string stream_messages(shm_channel& from, shm_channel& to, std::uint64_t count) {
  const std::size_t max = from.max_message_size();
  std::thread writer([&] {
    for (std::uint64_t n = 0; n < count; ++n) {
      if (!from.send(message_bytes(n, max), watchdog)) {
        return;
      }
    }
  });
  std::string problem;
  std::vector<std::byte> buffer(max);
  for (std::uint64_t n = 0; n < count && problem.empty(); ++n) {
    if (n % 2 == 0) {
      auto got = to.receive(buffer, watchdog);
      if (!got || !got.value()) {
        problem = "receive " + std::to_string(n) + ": " +
                  (got ? std::string("end of stream") : got.error().message());
      } else if (!is_message(std::span(buffer).first(*got.value()), n, max)) {
        problem = "message " + std::to_string(n) + " differs";
      }
    } else {
      auto got = to.receive_view(watchdog);
      if (!got || !got.value()) {
        problem = "receive_view " + std::to_string(n) + ": " +
                  (got ? std::string("end of stream") : got.error().message());
      } else if (!is_message(*got.value(), n, max)) {
        problem = "message " + std::to_string(n) + " differs";
      }
      to.release();
    }
  }
  writer.join();
  return problem;
}

TYPED_TEST(ShmChannel, MessagesArriveWholeAndInOrderBetweenThreads) {
  auto [a, b] = make_channels<TypeParam>({.ring_size = 64 * 1024});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a.role(), shm_role::creator);
  EXPECT_EQ(b.role(), shm_role::acceptor);
  EXPECT_EQ(stream_messages(a, b, 4000), "");
  EXPECT_EQ(stream_messages(b, a, 4000), "");
}

TYPED_TEST(ShmChannel, BothDirectionsAtOnceOnFourThreads) {
  auto [a, b] = make_channels<TypeParam>({.ring_size = 16 * 1024});
  ASSERT_TRUE(a && b);
  std::string a_to_b;
  std::thread one([&, &a = a, &b = b] { a_to_b = stream_messages(a, b, 4000); });
  EXPECT_EQ(stream_messages(b, a, 4000), "");
  one.join();
  EXPECT_EQ(a_to_b, "");
}

TEST(ShmChannel, SleepingPeersStillWakeWithSpinningOff) {
  auto [a, b] = make_channels({.spin = 0ns});
  ASSERT_TRUE(a && b);
  std::thread echo([&b = b] {
    std::vector<std::byte> buffer(64);
    for (;;) {
      auto got = b.receive(buffer, watchdog);
      if (!got || !got.value() || !b.send(std::span(buffer).first(*got.value()), watchdog)) {
        return;
      }
    }
  });
  std::vector<std::byte> reply(64);
  for (std::uint64_t n = 0; n < 2000; ++n) {
    const auto message = message_bytes(n, 64);
    ASSERT_TRUE(a.send(message, watchdog));
    auto got = a.receive(reply, watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    ASSERT_TRUE(is_message(std::span(reply).first(*got.value()), n, 64)) << n;
  }
  a = shm_channel();  // the echo thread sees the end
  echo.join();
}

TEST(ShmChannel, AReceiveWithoutADeadlineSleepsUntilWokenThenUntilTheEnd) {
  auto [a, b] = make_channels({.spin = 0ns});
  ASSERT_TRUE(a && b);
  std::thread writer([&a = a] {
    std::this_thread::sleep_for(20ms);  // most likely after the reader went to sleep
    EXPECT_TRUE(a.send(as_bytes(std::string("late"))));
    std::this_thread::sleep_for(20ms);
    a = shm_channel();  // the end, while the reader sleeps again
  });
  auto got = b.receive_view();  // no deadline: sleeps in recv(2) on its bell
  ASSERT_TRUE(got && got.value()) << (got ? "end of stream" : got.error().message());
  EXPECT_EQ(as_string(*got.value()), "late");
  auto end = b.receive_view();
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_FALSE(end.value());
  writer.join();
}

TEST(ShmChannel, ReserveFillsInPlaceAndCommitPublishesOnlyWhatWasCommitted) {
  auto [a, b] = make_channels();
  ASSERT_TRUE(a && b);
  auto room = a.reserve(100);
  ASSERT_TRUE(room);
  ASSERT_EQ(room.value().size(), 100U);
  // Nothing is visible before the commit.
  auto early = b.receive_view(deadline::passed());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), std::errc::timed_out);
  for (std::size_t i = 0; i < 10; ++i) {
    room.value()[i] = static_cast<std::byte>('a' + i);
  }
  ASSERT_TRUE(a.commit(10));
  auto view = b.receive_view(watchdog);
  ASSERT_TRUE(view && view.value());
  EXPECT_EQ(as_string(*view.value()), "abcdefghij");
  b.release();
  // Committing without a reservation, or past it, publishes nothing.
  EXPECT_EQ(a.commit(0).error(), std::errc::invalid_argument);
  ASSERT_TRUE(a.reserve(4));
  EXPECT_EQ(a.commit(5).error(), std::errc::invalid_argument);
  // A second reservation abandons the first.
  ASSERT_TRUE(a.reserve(8));
  ASSERT_TRUE(a.commit(0));  // an empty message
  auto empty = b.receive_view(watchdog);
  ASSERT_TRUE(empty && empty.value());
  EXPECT_TRUE(empty.value()->empty());
  EXPECT_EQ(b.receive_view(deadline::passed()).error(), std::errc::timed_out);
}

TEST(ShmChannel, TheLargestMessageIsHalfTheRingAndOneMoreByteIsRefused) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a.max_message_size(), 4096U / 2 - 8);
  EXPECT_EQ(a.reserve(a.max_message_size() + 1).error(), std::errc::message_size);
  EXPECT_EQ(a.send(std::vector<std::byte>(5000)).error(), std::errc::message_size);
  // The largest fits wherever the ring stands: go round many times with odd sizes.
  std::vector<std::byte> buffer(a.max_message_size());
  for (std::uint64_t n = 0; n < 300; ++n) {
    const auto message = pattern(n, n % 3 == 0 ? a.max_message_size() : n * 13 % 900);
    ASSERT_TRUE(a.send(message, watchdog)) << n;
    auto got = b.receive(buffer, watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    ASSERT_EQ(*got.value(), message.size());
    ASSERT_TRUE(std::equal(message.begin(), message.end(), buffer.begin())) << n;
  }
}

TEST(ShmChannel, AMessageLongerThanTheBufferIsReportedAndStaysQueued) {
  auto [a, b] = make_channels();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a.send(as_bytes(std::string("0123456789"))));
  std::array<std::byte, 4> small{};
  EXPECT_EQ(b.receive(small, watchdog).error(), errc::message_truncated);
  std::array<std::byte, 16> big{};
  auto got = b.receive(big, watchdog);
  ASSERT_TRUE(got && got.value());
  EXPECT_EQ(as_string(std::span(big).first(*got.value())), "0123456789");
}

TEST(ShmChannel, BulkBytesCrossRecordBoundariesInAnyPieces) {
  auto [a, b] = make_channels({.ring_size = 8192});
  ASSERT_TRUE(a && b);
  const auto data = pattern(42, (std::size_t{1} << 20) + 12345);
  std::thread writer([&, &a = a] {
    outgoing out(data);
    EXPECT_TRUE(a.write_bytes(out, watchdog));
    EXPECT_EQ(out.done(), data.size());
    a = shm_channel();  // then the end of the stream
  });
  std::vector<std::byte> got;
  std::vector<std::byte> piece(7777);
  for (std::size_t i = 0;; ++i) {
    const std::size_t want = 1 + (i * 977) % piece.size();
    auto n = b.read_bytes(std::span(piece).first(want), watchdog);
    ASSERT_TRUE(n) << n.error().message();
    if (n.value() == 0) {
      break;
    }
    got.insert(got.end(), piece.begin(), piece.begin() + static_cast<long>(n.value()));
  }
  writer.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST(ShmChannel, AReceiveWaitsUntilItsDeadlineAndNoLonger) {
  auto [a, b] = make_channels({.spin = 1ms});
  ASSERT_TRUE(a && b);
  std::array<std::byte, 8> buffer{};
  EXPECT_EQ(b.receive(buffer, 20ms).error(), std::errc::timed_out);
  EXPECT_EQ(b.receive(buffer, deadline::clock::now() + 5ms).error(), std::errc::timed_out);
  EXPECT_EQ(b.receive(buffer, -5s).error(), std::errc::timed_out);
  EXPECT_EQ(b.read_bytes(buffer, 0ms).error(), std::errc::timed_out);
  // Nothing was consumed by the failures.
  ASSERT_TRUE(a.send(as_bytes(std::string("x"))));
  auto got = b.receive(buffer, watchdog);
  ASSERT_TRUE(got && got.value());
  EXPECT_EQ(*got.value(), 1U);
}

TEST(ShmChannel, AFullRingMakesTheWriterWaitForTheReaderOrItsDeadline) {
  auto [a, b] = make_channels({.ring_size = 4096, .spin = 0ns});
  ASSERT_TRUE(a && b);
  const std::vector<std::byte> message(1000);
  std::size_t sent = 0;
  for (;; ++sent) {
    auto r = a.send(message, 10ms);
    if (!r) {
      EXPECT_EQ(r.error(), std::errc::timed_out);
      break;
    }
  }
  EXPECT_GE(sent, 3U);
  // A reader draining from another thread lets the writer on.
  std::thread reader([&b = b, sent] {
    std::vector<std::byte> buffer(1000);
    for (std::size_t i = 0; i < sent + 100; ++i) {
      auto got = b.receive(buffer, watchdog);
      if (!got || !got.value()) {
        return;
      }
    }
  });
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(a.send(message, watchdog)) << i;
  }
  reader.join();
}

TYPED_TEST(ShmChannel, TheReaderGetsEverythingThenTheEndWhenThePeerCloses) {
  auto [a, b] = make_channels<TypeParam>();
  ASSERT_TRUE(a && b);
  for (std::uint64_t n = 0; n < 5; ++n) {
    ASSERT_TRUE(a.send(message_bytes(n, a.max_message_size())));
  }
  ASSERT_TRUE(a.reserve(10));  // never committed: must never arrive
  a = shm_channel();
  for (std::uint64_t n = 0; n < 5; ++n) {
    auto got = b.receive_view(watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    EXPECT_TRUE(is_message(*got.value(), n, b.max_message_size()));
  }
  for (int i = 0; i < 3; ++i) {  // the end stays the end
    auto end = b.receive_view(watchdog);
    ASSERT_TRUE(end) << end.error().message();
    EXPECT_FALSE(end.value());
    std::array<std::byte, 4> buffer{};
    auto bytes = b.read_bytes(buffer, watchdog);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes.value(), 0U);
  }
}

TEST(ShmChannel, AWriterLearnsOfAClosedReaderWhenTheRingFills) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  b = shm_channel();
  const std::vector<std::byte> message(1000);
  for (int i = 0;; ++i) {
    auto r = a.send(message, watchdog);
    if (!r) {
      EXPECT_EQ(r.error(), std::errc::broken_pipe) << r.error().message();
      break;
    }
    ASSERT_LT(i, 100);
  }
}

TEST(ShmChannel, ABatchedMessageStaysUnseenUntilFlushThenArrives) {
  auto [a, b] = make_channels({.ring_size = std::size_t{64} * 1024});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a.send(message_bytes(4, 64), watchdog, shm_publish::batched));
  auto room = a.reserve(100, watchdog);
  ASSERT_TRUE(room);
  const auto second = message_bytes(5, 64);
  std::copy(second.begin(), second.end(), room.value().begin());
  ASSERT_TRUE(a.commit(second.size(), shm_publish::batched));
  std::vector<std::byte> buffer(64);
  auto early = b.receive(buffer, deadline::passed());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), std::errc::timed_out);
  ASSERT_TRUE(a.flush());
  ASSERT_TRUE(a.flush());  // nothing left: a no-op
  for (std::uint64_t n = 4; n < 6; ++n) {
    auto got = b.receive(buffer, watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    EXPECT_TRUE(is_message(std::span(buffer).first(*got.value()), n, 64)) << n;
  }
}

TEST(ShmChannel, BatchedMessagesArePublishedOnceASixteenthOfTheRingIsWaiting) {
  constexpr std::size_t ring = std::size_t{64} * 1024;
  auto [a, b] = make_channels({.ring_size = ring});
  ASSERT_TRUE(a && b);
  std::size_t staged = 0;  // bytes of ring the batched records take (8-byte header each)
  for (std::uint64_t n = 0; staged < ring / 16; ++n) {
    ASSERT_TRUE(a.send(pattern(n, 64), watchdog, shm_publish::batched));
    staged += 8 + 64;
  }
  std::vector<std::byte> buffer(64);
  auto got = b.receive(buffer, deadline::passed());  // no flush, no wait: published already
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got.value());
  EXPECT_EQ(std::vector<std::byte>(buffer.begin(), buffer.end()), pattern(0, 64));
}

TEST(ShmChannel, ABatchingWriterFillsTheRingManyTimesOverAndEveryMessageArrives) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  constexpr std::uint64_t count = 3000;
  const std::size_t max = a.max_message_size();
  std::string problem;
  std::thread writer([&, &a = a] {
    for (std::uint64_t n = 0; n < count; ++n) {
      if (auto sent = a.send(message_bytes(n, max), watchdog, shm_publish::batched); !sent) {
        problem = "send " + std::to_string(n) + ": " + sent.error().message();
        return;
      }
    }
    if (auto flushed = a.flush(); !flushed) {
      problem = "flush: " + flushed.error().message();
    }
  });
  std::vector<std::byte> buffer(max);
  for (std::uint64_t n = 0; n < count; ++n) {
    auto got = b.receive(buffer, watchdog);
    ASSERT_TRUE(got && got.value()) << n << (got ? "" : got.error().message());
    ASSERT_TRUE(is_message(std::span(buffer).first(*got.value()), n, max)) << n;
  }
  writer.join();
  EXPECT_EQ(problem, "");
}

TEST(ShmChannel, ClosingAWriterPublishesWhatItBatched) {
  auto [a, b] = make_channels();
  ASSERT_TRUE(a && b);
  for (std::uint64_t n = 0; n < 3; ++n) {
    ASSERT_TRUE(a.send(message_bytes(n, 64), watchdog, shm_publish::batched));
  }
  a = shm_channel();
  std::vector<std::byte> buffer(64);
  for (std::uint64_t n = 0; n < 3; ++n) {
    auto got = b.receive(buffer, watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    EXPECT_TRUE(is_message(std::span(buffer).first(*got.value()), n, 64)) << n;
  }
  auto end = b.receive(buffer, watchdog);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end.value());
}

TEST(ShmChannel, AWriterAsleepForRoomIsWokenByTheNextReleaseEvenASmallOne) {
  auto [a, b] = make_channels({.ring_size = 4096, .spin = 0ns});
  ASSERT_TRUE(a && b);
  const std::vector<std::byte> message(8);
  std::size_t sent = 0;
  while (a.send(message, deadline::passed())) {
    ++sent;
  }
  ASSERT_GT(sent, 100U);
  std::atomic<bool> done{false};
  std::thread writer([&a = a, &message, &done] {
    EXPECT_TRUE(a.send(message, watchdog));  // sleeps: the ring is full
    done = true;
  });
  // Until the writer sleeps (its episode in the region): then one 16-byte release must wake it.
  std::uint64_t* const asleep = detail::shm_word(
      b.shared_region().data(), detail::shm_control_offset(0) + detail::shm_off_space_waiting);
  while (detail::shm_load(asleep, std::memory_order_acquire) == 0) {
    std::this_thread::yield();
  }
  std::vector<std::byte> buffer(8);
  auto got = b.receive(buffer, watchdog);
  ASSERT_TRUE(got && got.value());
  writer.join();  // within the watchdog, or the send above fails
  EXPECT_TRUE(done);
}

TEST(ShmChannel, MessagesOfEverySmallSizeArriveExactlyAcrossManyWraps) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  std::vector<std::byte> buffer(256);
  for (std::uint64_t n = 0; n < 2000; ++n) {
    const std::size_t size = n % 131;
    const auto how = n % 3 == 0 ? shm_publish::now : shm_publish::batched;
    ASSERT_TRUE(a.send(pattern(n, size), watchdog, how)) << n;
    if (n % 5 == 4) {
      ASSERT_TRUE(a.flush());
      for (std::uint64_t m = n - 4; m <= n; ++m) {
        auto got = b.receive(buffer, watchdog);
        ASSERT_TRUE(got && got.value()) << m;
        EXPECT_EQ(std::vector<std::byte>(buffer.begin(), buffer.begin() + *got.value()),
                  pattern(m, m % 131))
            << m;
      }
    }
  }
}

// ---- receive_batch / try_receive_batch ----------------------------------------------------

// The tail b has published for ring 0 (what a's writer may reuse).
std::uint64_t published_tail(shm_channel& b) {
  return detail::shm_load(detail::shm_word(b.shared_region().data(),
                                           detail::shm_control_offset(0) + detail::shm_off_tail),
                          std::memory_order_acquire);
}

TEST(ShmChannel, ReceiveBatchVisitsEveryPublishedMessageOnceInOrderAcrossTheRingsEnd) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  std::uint64_t next_sent = 0;
  std::uint64_t next_read = 0;
  std::size_t batches = 0;
  // Batches of 1 to 12 messages of 0 to 200 bytes (empty ones included): the ring's 4 KiB
  // wrap many times, so batches hold wrap markers and records just before and after them.
  for (std::uint64_t round = 0; round < 400; ++round) {
    const std::uint64_t count = 1 + round % 12;
    for (std::uint64_t i = 0; i < count; ++i, ++next_sent) {
      ASSERT_TRUE(a.send(pattern(next_sent, next_sent * 37 % 201), watchdog, shm_publish::batched))
          << next_sent;
    }
    ASSERT_TRUE(a.flush());
    const std::uint64_t tail_before = published_tail(b);
    bool tail_moved_early = false;
    std::string problem;
    auto got = b.receive_batch(
        [&, &b = b](std::span<const std::byte> m) {
          tail_moved_early = tail_moved_early || published_tail(b) != tail_before;
          const auto want = pattern(next_read, next_read * 37 % 201);
          if (problem.empty() && !std::equal(m.begin(), m.end(), want.begin(), want.end())) {
            problem = "message " + std::to_string(next_read) + " differs";
          }
          ++next_read;
        },
        watchdog);
    ASSERT_TRUE(got && got.value()) << round;
    EXPECT_EQ(problem, "");
    EXPECT_FALSE(tail_moved_early) << "room released before the batch's last visit";
    EXPECT_EQ(*got.value(), count) << round;  // all that was published, in one call
    EXPECT_EQ(next_read, next_sent);
    ++batches;
  }
  // Nothing left, nothing visited twice.
  auto none = b.try_receive_batch([&](std::span<const std::byte>) { ++next_read; });
  ASSERT_TRUE(none && none.value());
  EXPECT_EQ(*none.value(), 0U);
  EXPECT_EQ(next_read, next_sent);
  EXPECT_EQ(batches, 400U);
}

TEST(ShmChannel, ReceiveBatchStopsAtMaxMessagesAndTheNextTakesAllPublishedSince) {
  auto [a, b] = make_channels();
  ASSERT_TRUE(a && b);
  for (std::uint64_t n = 0; n < 10; ++n) {
    ASSERT_TRUE(a.send(message_bytes(n, 64), watchdog, shm_publish::batched));
  }
  ASSERT_TRUE(a.flush());
  std::uint64_t n = 0;
  auto check = [&](std::span<const std::byte> m) { EXPECT_TRUE(is_message(m, n++, 64)) << n; };
  auto first = b.receive_batch(check, watchdog, 4);
  ASSERT_TRUE(first && first.value());
  EXPECT_EQ(*first.value(), 4U);
  // A receive_view in between takes the next one; the batch goes on after it.
  auto view = b.receive_view(watchdog);
  ASSERT_TRUE(view && view.value());
  EXPECT_TRUE(is_message(*view.value(), n++, 64));
  // Published after the reader last loaded the head: the batch takes them too.
  for (std::uint64_t m = 10; m < 13; ++m) {
    ASSERT_TRUE(a.send(message_bytes(m, 64), watchdog));
  }
  auto rest = b.try_receive_batch(check);  // releases the view first
  ASSERT_TRUE(rest && rest.value());
  EXPECT_EQ(*rest.value(), 8U);
  EXPECT_EQ(n, 13U);
}

TEST(ShmChannel, ReceiveBatchWaitsForTheFirstMessageTimesOutAndReportsTheEnd) {
  auto [a, b] = make_channels({.spin = 0ns});
  ASSERT_TRUE(a && b);
  std::size_t visits = 0;
  auto count = [&](std::span<const std::byte>) { ++visits; };
  EXPECT_EQ(b.receive_batch(count, 5ms).error(), std::errc::timed_out);
  EXPECT_EQ(b.receive_batch(count, deadline::passed()).error(), std::errc::timed_out);
  auto nothing = b.try_receive_batch(count);
  ASSERT_TRUE(nothing && nothing.value());
  EXPECT_EQ(*nothing.value(), 0U);
  std::thread writer([&a = a] {
    std::this_thread::sleep_for(20ms);  // most likely after the reader went to sleep
    EXPECT_TRUE(a.send(as_bytes(std::string("late"))));
    std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(a.send(as_bytes(std::string("last")), watchdog, shm_publish::batched));
    a = shm_channel();  // publishes "last", then the end
  });
  auto late = b.receive_batch([&](std::span<const std::byte> m) {
    EXPECT_EQ(as_string(m), "late");
    ++visits;
  });
  ASSERT_TRUE(late && late.value()) << (late ? "end of stream" : late.error().message());
  EXPECT_EQ(*late.value(), 1U);
  writer.join();
  auto last = b.try_receive_batch([&](std::span<const std::byte> m) {
    EXPECT_EQ(as_string(m), "last");
    ++visits;
  });
  ASSERT_TRUE(last && last.value());
  EXPECT_EQ(*last.value(), 1U);
  auto end = b.receive_batch(count, watchdog);
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_FALSE(end.value());
  auto end_again = b.try_receive_batch(count);
  ASSERT_TRUE(end_again) << end_again.error().message();
  EXPECT_FALSE(end_again.value());
  EXPECT_EQ(visits, 2U);
}

TEST(ShmChannel, ReceiveBatchAlongsideAWriterOnAnotherThreadGetsEveryMessage) {
  auto [a, b] = make_channels({.ring_size = 4096});
  ASSERT_TRUE(a && b);
  constexpr std::uint64_t count = 5000;
  const std::size_t max = a.max_message_size();
  std::thread writer([&a = a, max] {
    for (std::uint64_t n = 0; n < count; ++n) {
      const auto how = n % 4 == 3 ? shm_publish::now : shm_publish::batched;
      if (!a.send(message_bytes(n, max / 4), watchdog, how)) {
        ADD_FAILURE() << "send " << n;
        return;
      }
    }
    a = shm_channel();
  });
  std::uint64_t n = 0;
  std::size_t calls = 0;
  for (;;) {
    auto got = b.receive_batch(
        [&](std::span<const std::byte> m) { ASSERT_TRUE(is_message(m, n++, max / 4)) << n; },
        watchdog);
    ASSERT_TRUE(got) << got.error().message();
    if (!got.value()) {
      break;
    }
    ++calls;
  }
  writer.join();
  EXPECT_EQ(n, count);
  EXPECT_GE(calls, 1U);
}

// ---- Not spinning on the peer's CPU -------------------------------------------------------

// Binds the calling thread to CPU 0; false if it may not run there.
bool bind_to_cpu_0() {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  return ::sched_setaffinity(0, sizeof one, &one) == 0;
}

TEST(ShmChannel, AWaiterOnTheCpuItsPeerLastRanOnSleepsAtOnceInsteadOfSpinning) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (!CPU_ISSET(0, &allowed)) {
    GTEST_SKIP() << "CPU 0 is not ours";
  }
  // A spin bound far beyond any round trip: a waiter that spun would show in the counts (and
  // would only give up its CPU, to the peer it waits for, when the scheduler preempts it).
  auto [a, b] = make_channels({.spin = 10s});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(bind_to_cpu_0());
  shm_wait_counts echo_before;  // the echo thread's, after the warm-up
  std::thread echo([&b = b, &echo_before] {
    EXPECT_TRUE(bind_to_cpu_0());
    std::vector<std::byte> buffer(64);
    for (int n = 1;; ++n) {
      auto got = b.receive(buffer, watchdog);
      if (!got || !got.value() || !b.send(std::span(buffer).first(*got.value()), watchdog)) {
        return;
      }
      if (n == 3) {
        echo_before = b.wait_counts();
      }
    }
  });
  std::vector<std::byte> reply(64);
  auto round_trip = [&, &a = a](std::uint64_t n) {
    ASSERT_TRUE(a.send(message_bytes(n, 64), watchdog));
    auto got = a.receive(reply, watchdog);
    ASSERT_TRUE(got && got.value()) << n;
    ASSERT_TRUE(is_message(std::span(reply).first(*got.value()), n, 64)) << n;
  };
  // The first waits may come before the peer has recorded a CPU (then they may spin).
  for (std::uint64_t n = 0; n < 3; ++n) {
    round_trip(n);
  }
  const shm_wait_counts before = a.wait_counts();
  for (std::uint64_t n = 3; n < 40; ++n) {
    round_trip(n);
  }
  const shm_wait_counts after = a.wait_counts();
  a = shm_channel();  // the echo thread sees the end
  echo.join();
  ASSERT_EQ(::sched_setaffinity(0, sizeof allowed, &allowed), 0);
  const shm_wait_counts echo_after = b.wait_counts();
  EXPECT_EQ(after.spun, before.spun) << "waits that spun on the peer's CPU";
  EXPECT_EQ(echo_after.spun, echo_before.spun) << "the echo's waits that spun";
  // Every round trip makes one end wait for the other (which one depends on the scheduler).
  EXPECT_GE(after.slept_without_spinning - before.slept_without_spinning +
                echo_after.slept_without_spinning - echo_before.slept_without_spinning,
            37U);
}

TEST(ShmChannel, AMovedFromChannelIsEmptyAndFailsWithEbadf) {
  auto [a, b] = make_channels();
  ASSERT_TRUE(a && b);
  shm_channel moved(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the point
  EXPECT_TRUE(moved);
  EXPECT_EQ(a.reserve(1).error(),
            std::errc::bad_file_descriptor);  // NOLINT(bugprone-use-after-move)
  std::array<std::byte, 1> buffer{};
  EXPECT_EQ(a.receive(buffer).error(), std::errc::bad_file_descriptor);  // NOLINT
  EXPECT_EQ(a.flush().error(), std::errc::bad_file_descriptor);          // NOLINT
  ASSERT_TRUE(moved.send(as_bytes(std::string("after the move"))));
  shm_channel other;
  other = std::move(b);
  auto got = other.receive_view(watchdog);
  ASSERT_TRUE(got && got.value());
  EXPECT_EQ(as_string(*got.value()), "after the move");
}

TEST(ShmChannel, ABadRingSizeIsRefusedAndTheSocketClosed) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1000}, std::size_t{2048},
                                 std::size_t{4096 + 8}, std::size_t{1} << 31}) {
    auto pair = socket_pair<stream>::create().value();
    auto r = shm_channel::create(std::move(pair.first), {.ring_size = size});
    ASSERT_FALSE(r) << size;
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
    // The creator's end is closed: the other end reads the end of the stream.
    std::array<std::byte, 1> byte{};
    auto eof = pair.second.receive(byte);
    ASSERT_TRUE(eof);
    EXPECT_EQ(eof.value(), 0U);
  }
}

TEST(ShmChannel, AcceptReportsAClosedPeerAndAPassedDeadline) {
  {
    auto pair = socket_pair<stream>::create().value();
    auto r = shm_channel::accept(std::move(pair.first), {}, 10ms);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::timed_out);
  }
  {
    auto pair = socket_pair<seqpacket>::create().value();
    ASSERT_TRUE(pair.second.close());
    auto r = shm_channel::accept(std::move(pair.first), {}, watchdog);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::unexpected_eof);
  }
}

TEST(ShmChannel, PeerProtocolViolationHasAMessageAndMeansEproto) {
  const std::error_code e = errc::peer_protocol_violation;
  EXPECT_EQ(e.category().name(), std::string("sockpair"));
  EXPECT_NE(e.message().find("shared-memory protocol"), std::string::npos);
  EXPECT_EQ(e, std::errc::protocol_error);
  EXPECT_NE(e, std::errc::message_size);
}

TEST(Deadline, ConversionsSaturateInsteadOfOverflowing) {
  EXPECT_TRUE(deadline().is_never());
  EXPECT_TRUE(deadline::never().is_never());
  EXPECT_TRUE(deadline(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(deadline(std::chrono::nanoseconds::max()).is_never());
  EXPECT_TRUE(deadline(std::chrono::duration<double>(1e300)).is_never());
  EXPECT_TRUE(
      deadline(std::chrono::time_point<deadline::clock, std::chrono::hours>::max()).is_never());
  const auto now = deadline::clock::now();
  EXPECT_TRUE(deadline(-1s).passed_at(now));
  EXPECT_TRUE(deadline(std::chrono::hours::min()).passed_at(now));
  EXPECT_TRUE(deadline(std::chrono::nanoseconds::zero()).passed_at(now));
  EXPECT_TRUE(deadline(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()))
                  .passed_at(now));
  EXPECT_TRUE(deadline::passed().passed_at(now));
  EXPECT_TRUE(
      deadline(std::chrono::time_point<deadline::clock, std::chrono::hours>::min()).passed_at(now));
  const deadline soon(10s);
  EXPECT_FALSE(soon.passed_at(now));
  EXPECT_GE(soon.at(), now + 10s);
  EXPECT_LE(soon.left(now), 11s);
  EXPECT_EQ(deadline(now).at(), now);
  // A sub-nanosecond duration rounds up: a wait is never cut short.
  using picoseconds = std::chrono::duration<std::int64_t, std::pico>;
  EXPECT_GT(deadline(picoseconds(1)).at(), deadline::clock::time_point());
}

}  // namespace
}  // namespace sockpair::testing
