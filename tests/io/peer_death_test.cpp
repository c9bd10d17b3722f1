// A peer killed with SIGKILL in the middle of a transfer: the survivor loses nothing that was
// sent, learns of the death as the kernel reports it (EOF, ECONNRESET, EPIPE, or for dgram
// nothing at all), and is never killed by SIGPIPE.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

constexpr std::size_t chunk = 4096;  // bytes per send (per message on message sockets)
constexpr std::uint64_t seed = 0xdead;

template <class Pair>
class PeerDeath : public ::testing::Test {};
TYPED_TEST_SUITE(PeerDeath, unix_pair_types, pair_type_names);

// What the survivor saw after the death, in order: "reset" (ECONNRESET), "eof", or
// "silence" (dgram: nothing more arrives, and nothing says why).
std::string describe(const std::vector<std::string>& events) {
  std::string all;
  for (const auto& e : events) {
    all += (all.empty() ? "" : ",") + e;
  }
  return all;
}

TYPED_TEST(PeerDeath, AReaderGetsEverythingSentThenEofOrResetWhenTheWriterIsKilled) {
  using end_type = typename TypeParam::end_type;
  constexpr bool messages = end_type::type::message_oriented;
  // Once with nothing unread at the dead writer's end, once with bytes it never read: Linux
  // reports the death differently (ECONNRESET only in the second case).
  for (const bool unread_at_writer : {false, true}) {
    SCOPED_TRACE(unread_at_writer ? "the writer had unread data" : "the writer had read all");
    auto pair = TypeParam::create().value();
    auto& reader = pair.first;
    auto& writer_end = pair.second;
    if (unread_at_writer) {
      ASSERT_TRUE(reader.send(std::string_view("never read")));
    }
    auto writer = child_process::start([&]() -> std::string {
      static_cast<void>(reader.close());
      for (std::uint64_t offset = 0;; offset += chunk) {
        const auto bytes = pattern(seed, chunk, offset);
        if constexpr (messages) {
          if (!writer_end.send(bytes)) {
            return "send failed";
          }
        } else if (!writer_end.send_all(bytes)) {
          return "send_all failed";
        }
      }
    });
    ASSERT_TRUE(writer_end.close());

    std::atomic<std::size_t> received{0};
    std::atomic<bool> reaped{false};
    std::string writer_fate;
    std::thread killer([&] {
      while (received.load() < std::size_t{1024} * 1024) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ::kill(writer.pid(), SIGKILL);
      writer_fate = writer.wait();
      reaped = true;
    });

    std::vector<std::byte> buffer(chunk);
    std::vector<std::string> events;
    std::size_t corrupt = 0;
    for (;;) {
      // Poll first: a dgram reader would otherwise block forever once the writer is gone.
      const auto ready = reader.wait_readable(std::chrono::milliseconds(10));
      ASSERT_TRUE(ready);
      if (ready.value() == readiness::timed_out) {
        if (reaped.load() &&
            reader.wait_readable(std::chrono::milliseconds(0)).value() == readiness::timed_out) {
          events.push_back("silence");  // the writer is dead and nothing more is queued
          break;
        }
        continue;
      }
      std::size_t got = 0;
      if constexpr (messages) {
        auto message = reader.receive_message(buffer);
        if (!message) {
          ASSERT_EQ(message.error(), std::errc::connection_reset) << message.error().message();
          events.push_back("reset");
          continue;  // the queue is still there to read
        }
        if (message.value().end_of_stream) {
          events.push_back("eof");
          break;
        }
        ASSERT_EQ(message.value().size, chunk) << "a message arrived in part";
        got = message.value().size;
      } else {
        auto bytes = reader.receive(buffer);
        if (!bytes) {
          ASSERT_EQ(bytes.error(), std::errc::connection_reset) << bytes.error().message();
          events.push_back("reset");
          continue;
        }
        if (bytes.value() == 0) {
          events.push_back("eof");
          break;
        }
        got = bytes.value();
      }
      const std::size_t offset = received.load();
      if (!std::equal(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(got),
                      pattern(seed, got, offset).begin())) {
        ++corrupt;
      }
      received += got;
    }
    killer.join();

    EXPECT_NE(writer_fate.find("signal 9"), std::string::npos) << writer_fate;
    EXPECT_EQ(corrupt, 0u) << "bytes before the death arrived altered or with gaps";
    if constexpr (!messages) {
      // A stream may stop mid-chunk: the killed writer's last send_all was cut short.
    } else {
      EXPECT_EQ(received.load() % chunk, 0u) << "messages are whole or absent";
    }
    const std::string seen = describe(events);
    ::testing::Test::RecordProperty(
        unread_at_writer ? "after_death_with_unread_data" : "after_death_all_read", seen);
    std::set<std::string> allowed;
    if constexpr (std::same_as<typename end_type::type, dgram>) {
      allowed = {"silence"};  // a dgram pair has no EOF: the reader must time out
    } else {
      allowed = {"eof", "reset,eof"};
    }
    EXPECT_TRUE(allowed.count(seen) == 1) << "after the death the reader saw: " << seen;
  }
}

pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

long blocked_syscall(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  file >> first;
  return first.empty() || first == "running" ? -1 : std::stol(first);
}

TYPED_TEST(PeerDeath, ABlockedWriterLearnsOfTheDeathAsAnErrorAndDoneCountsWhatWentOut) {
  using end_type = typename TypeParam::end_type;
  constexpr bool messages = end_type::type::message_oriented;
  auto pair = TypeParam::create().value();
  auto& writer = pair.first;
  auto& reader_end = pair.second;
  auto reader = child_process::start([&]() -> std::string {
    static_cast<void>(writer.close());
    // Reads a little, then stops reading for good: the writer fills the socket and blocks.
    std::vector<std::byte> buffer(chunk);
    for (int i = 0; i < 16; ++i) {
      if (!reader_end.receive(buffer)) {
        return "receive failed";
      }
    }
    for (;;) {
      ::pause();
    }
  });
  ASSERT_TRUE(reader_end.close());

  const pid_t writer_tid = current_tid();
  std::string reader_fate;
  std::thread killer([&] {
    // Kill the reader once the writer is blocked in a send.
    while (blocked_syscall(writer_tid) != SYS_sendto &&
           blocked_syscall(writer_tid) != SYS_sendmsg) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(reader.pid(), SIGKILL);
    reader_fate = reader.wait();
  });

  std::error_code failure;
  std::size_t sent_total = 0;
  if constexpr (messages) {
    for (std::uint64_t offset = 0;; offset += chunk) {
      auto sent = writer.send(pattern(seed, chunk, offset));
      if (!sent) {
        failure = sent.error();
        break;
      }
      sent_total += sent.value();
    }
  } else {
    const auto payload =
        pattern(seed, std::size_t{64} * 1024 * 1024);  // far more than the socket holds
    outgoing out(payload);
    auto sent = writer.send_all(out);
    const std::size_t done = out.done();
    ASSERT_FALSE(sent) << "64 MiB went to a reader that stopped reading";
    failure = sent.error();
    sent_total = done;
    EXPECT_LT(done, payload.size());
  }
  killer.join();

  EXPECT_NE(reader_fate.find("signal 9"), std::string::npos) << reader_fate;
  EXPECT_GE(sent_total, 16 * chunk) << "what the reader read went out";
  ::testing::Test::RecordProperty("writer_error", failure.message());
  std::vector<std::errc> allowed = {std::errc::broken_pipe, std::errc::connection_reset};
  if constexpr (std::same_as<typename end_type::type, dgram>) {
    allowed = {std::errc::connection_refused};
  }
  bool expected = false;
  for (const std::errc e : allowed) {
    expected = expected || failure == e;
  }
  EXPECT_TRUE(expected) << "the writer saw: " << failure.message();
}

}  // namespace
}  // namespace sockpair::testing
