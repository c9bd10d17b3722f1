// Load: 64 pairs at once, each with its own sending and receiving thread, moving stamped
// messages through four different paths of the library for a fixed time:
//
//   pair % 4 == 0  stream     send_all / receive_exact of a header and a payload
//   pair % 4 == 1  stream     frame_writer / frame_reader
//   pair % 4 == 2  seqpacket  send / receive_message; every 16th message with a descriptor
//                             (send_with_fds / receive_with_fds<1>)
//   pair % 4 == 3  dgram      send_batch / receive_batch
//
// Every message's payload is stamped with its pair and sequence number; the receiver checks
// each one where it lands, and at the end each pair's message count, byte count and
// order-sensitive checksum must match exactly between its two ends.
//
// Duration: SOCKPAIR_SOAK_SECONDS (default 2; e.g. 600 for a long soak), and at least
// `min_messages` per pair. The test never asserts a speed: it prints what moved.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/reliability/harness.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::dgram;
using sockpair::seqpacket;
using sockpair::shutdown_how;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::reliability::checksum;
using sockpair::reliability::fill_pattern;
using sockpair::reliability::first_mismatch;
using sockpair::reliability::kib;
using sockpair::testing::same_file;

constexpr int pair_count = 64;
// Every pair moves at least this many messages, however late its threads start (under
// ThreadSanitizer starting 128 threads can take most of the default duration).
constexpr std::uint64_t min_messages = 64;
constexpr std::uint64_t end_marker = ~std::uint64_t{0};

std::chrono::seconds soak_duration() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* text = std::getenv("SOCKPAIR_SOAK_SECONDS")) {
    const long seconds = std::strtol(text, nullptr, 10);
    if (seconds > 0) {
      return std::chrono::seconds(seconds);
    }
  }
  return std::chrono::seconds(2);
}

// Every message: this header, then `words` 8-byte words stamped from (pair, sequence).
struct header {
  std::uint64_t sequence;
  std::uint64_t words;
};

std::uint64_t seed_of(int pair, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(pair) << 48) ^ sequence;
}

// Payload length in words for message `sequence` of `pair`: 1 to 1024 words (8 B - 8 KiB).
std::uint64_t words_of(int pair, std::uint64_t sequence) {
  return (sequence * 2654435761u + static_cast<std::uint64_t>(pair) * 40503u) % 1024 + 1;
}

// One end's account of a pair.
struct tally {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t descriptors = 0;
  std::uint64_t sum = 0;
  std::string error;
};

// Builds message `sequence` (header and payload) into `out`; returns its size.
std::size_t build(int pair, std::uint64_t sequence, std::vector<std::byte>& out) {
  const std::uint64_t words = sequence == end_marker ? 0 : words_of(pair, sequence);
  const header h{sequence, words};
  out.resize(sizeof h + words * 8);
  std::memcpy(out.data(), &h, sizeof h);
  fill_pattern(seed_of(pair, sequence), 0, std::span(out).subspan(sizeof h));
  return out.size();
}

// Checks a received message (header and payload) against what `expected` must be; adds it
// to `t`. Returns false (with `t.error` set) on any difference.
bool check(int pair, std::uint64_t expected, std::span<const std::byte> message, tally& t,
           checksum& sum) {
  header h{};
  if (message.size() < sizeof h) {
    t.error = "message shorter than its header";
    return false;
  }
  std::memcpy(&h, message.data(), sizeof h);
  const auto payload = message.subspan(sizeof h);
  if (h.sequence != expected) {
    t.error = "message " + std::to_string(h.sequence) + " arrived where " +
              std::to_string(expected) + " was due";
    return false;
  }
  if (h.words != words_of(pair, expected) || payload.size() != h.words * 8) {
    t.error = "message " + std::to_string(expected) + " has the wrong length";
    return false;
  }
  if (first_mismatch(seed_of(pair, expected), 0, payload) != payload.size()) {
    t.error = "message " + std::to_string(expected) + " has wrong content";
    return false;
  }
  sum.add(payload);
  ++t.messages;
  t.bytes += message.size();
  return true;
}

using clock_type = std::chrono::steady_clock;

// Sends stamped messages 0, 1, ... with `send_one(seq, message)` (an empty string, or what
// went wrong) until the deadline has passed and at least `min_messages` went out, counting
// each in `sent`. False, with `sent.error` set, when a send failed.
template <class SendOne>
bool send_stamped(int id, clock_type::time_point deadline, tally& sent, SendOne send_one) {
  std::vector<std::byte> message;
  checksum sum;
  for (std::uint64_t seq = 0; seq < min_messages || clock_type::now() < deadline; ++seq) {
    build(id, seq, message);
    if (std::string error = send_one(seq, message); !error.empty()) {
      sent.error = std::move(error);
      return false;
    }
    sum.add(std::span(message).subspan(sizeof(header)));
    ++sent.messages;
    sent.bytes += message.size();
  }
  sent.sum = sum.value();
  return true;
}

// ---- The four kinds of pair ---------------------------------------------------------------------

void stream_exact(int id, clock_type::time_point deadline, tally& sent, tally& got) {
  auto pair = socket_pair<stream>::create();
  if (!pair) {
    sent.error = "create: " + pair.error().message();
    return;
  }
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  std::thread sender([&] {
    const bool all_sent =
        send_stamped(id, deadline, sent, [&](std::uint64_t, std::span<const std::byte> message) {
          auto r = out.send_all(message);
          return r ? std::string() : "send_all: " + r.error().message();
        });
    if (all_sent) {
      static_cast<void>(out.shutdown(shutdown_how::write));
    }
  });
  std::vector<std::byte> message(sizeof(header) + kib * 8);
  checksum sum;
  for (std::uint64_t seq = 0;; ++seq) {
    header h{};
    sockpair::incoming into_header(std::as_writable_bytes(std::span(&h, 1)));
    auto r = in.receive_exact(into_header);
    if (!r) {
      if (r.error() == sockpair::errc::unexpected_eof && into_header.done() == 0) {
        break;  // the sender shut down between messages
      }
      got.error = "receive_exact header: " + r.error().message();
      break;
    }
    std::memcpy(message.data(), &h, sizeof h);
    const std::size_t length = sizeof h + h.words * 8;
    if (length > message.size()) {
      got.error = "header claims too long a message";
      break;
    }
    auto body = in.receive_exact(std::span(message).subspan(sizeof h, h.words * 8));
    if (!body) {
      got.error = "receive_exact payload: " + body.error().message();
      break;
    }
    if (!check(id, seq, std::span(message).first(length), got, sum)) {
      break;
    }
  }
  got.sum = sum.value();
  sender.join();
}

void stream_framed(int id, clock_type::time_point deadline, tally& sent, tally& got) {
  auto pair = socket_pair<stream>::create();
  if (!pair) {
    sent.error = "create: " + pair.error().message();
    return;
  }
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  std::thread sender([&] {
    sockpair::frame_writer writer(out, {.flush_threshold = 16 * kib});
    const bool all_sent =
        send_stamped(id, deadline, sent, [&](std::uint64_t, std::span<const std::byte> message) {
          auto r = writer.write(message);
          return r ? std::string() : "frame_writer::write: " + r.error().message();
        });
    if (!all_sent) {
      return;
    }
    if (auto flushed = writer.flush(); !flushed) {
      sent.error = "flush: " + flushed.error().message();
    }
    static_cast<void>(out.shutdown(shutdown_how::write));
  });
  sockpair::frame_reader reader(in);
  checksum sum;
  for (std::uint64_t seq = 0;; ++seq) {
    auto frame = reader.read();
    if (!frame) {
      got.error = "frame_reader::read: " + frame.error().message();
      break;
    }
    if (!frame.value()) {
      break;  // clean end
    }
    if (!check(id, seq, *frame.value(), got, sum)) {
      break;
    }
  }
  got.sum = sum.value();
  sender.join();
}

void seqpacket_with_fds(int id, clock_type::time_point deadline, tally& sent, tally& got) {
  auto pair = socket_pair<seqpacket>::create();
  if (!pair) {
    sent.error = "create: " + pair.error().message();
    return;
  }
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::thread sender([&] {
    const bool all_sent = send_stamped(
        id, deadline, sent, [&](std::uint64_t seq, std::span<const std::byte> message) {
          const bool with_fd = seq % 16 == 0;
          auto r = with_fd ? sockpair::send_with_fds(out, message, {passed}) : out.send(message);
          if (!r) {
            return "send: " + r.error().message();
          }
          sent.descriptors += with_fd ? 1 : 0;
          return std::string();
        });
    if (all_sent) {
      static_cast<void>(out.shutdown(shutdown_how::write));
    }
  });
  std::vector<std::byte> message(sizeof(header) + kib * 8);
  checksum sum;
  for (std::uint64_t seq = 0;; ++seq) {
    if (seq % 16 == 0) {
      auto r = sockpair::receive_with_fds<1>(in, message);
      if (!r) {
        got.error = "receive_with_fds: " + r.error().message();
        break;
      }
      if (r.value().size == 0) {
        break;  // end of stream (this protocol sends no empty messages)
      }
      if (r.value().fds.size() != 1 || !same_file(r.value().fds[0].get(), passed)) {
        got.error = "message " + std::to_string(seq) + " lacks its descriptor";
        break;
      }
      ++got.descriptors;
      if (!check(id, seq, std::span(message).first(r.value().size), got, sum)) {
        break;
      }
    } else {
      auto r = in.receive_message(message);
      if (!r) {
        got.error = "receive_message: " + r.error().message();
        break;
      }
      if (r.value().end_of_stream) {
        break;
      }
      if (r.value().truncated() ||
          !check(id, seq, std::span(message).first(r.value().stored), got, sum)) {
        if (got.error.empty()) {
          got.error = "truncated";
        }
        break;
      }
    }
  }
  got.sum = sum.value();
  sender.join();
  ::close(passed);
}

void dgram_batched(int id, clock_type::time_point deadline, tally& sent, tally& got) {
  auto pair = socket_pair<dgram>::create();
  if (!pair) {
    sent.error = "create: " + pair.error().message();
    return;
  }
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  // A dgram pair has no end of stream: the sender's last message is the end marker.
  std::thread sender([&] {
    constexpr std::size_t batch = 8;
    std::array<std::vector<std::byte>, batch> storage;
    std::array<std::span<const std::byte>, batch> spans;
    checksum sum;
    std::uint64_t seq = 0;
    bool last = false;
    while (!last) {
      last = seq >= min_messages && clock_type::now() >= deadline;
      std::size_t count = 0;
      for (; count < batch && !(last && count == 1); ++count) {
        const std::uint64_t s = last ? end_marker : seq + count;
        build(id, s, storage[count]);
        spans[count] = storage[count];
      }
      std::size_t done = 0;
      while (done < count) {
        auto r = sockpair::send_batch(out, std::span(spans).subspan(done, count - done));
        if (!r) {
          sent.error = "send_batch: " + r.error().message();
          return;
        }
        done += r.value();
      }
      if (!last) {
        for (std::size_t i = 0; i < count; ++i) {
          sum.add(std::span(storage[i]).subspan(sizeof(header)));
          ++sent.messages;
          sent.bytes += storage[i].size();
        }
        seq += count;
      }
    }
    sent.sum = sum.value();
  });
  constexpr std::size_t batch = 16;
  std::array<std::vector<std::byte>, batch> storage;
  std::array<std::span<std::byte>, batch> spans;
  for (std::size_t i = 0; i < batch; ++i) {
    storage[i].resize(sizeof(header) + kib * 8);
    spans[i] = storage[i];
  }
  std::array<sockpair::message_info, batch> results{};
  checksum sum;
  std::uint64_t seq = 0;
  for (bool ended = false; !ended && got.error.empty();) {
    auto r = sockpair::receive_batch(in, spans, results);
    if (!r) {
      got.error = "receive_batch: " + r.error().message();
      break;
    }
    for (std::size_t i = 0; i < r.value(); ++i) {
      header h{};
      std::memcpy(&h, storage[i].data(), sizeof h);
      if (h.sequence == end_marker) {
        ended = true;
        break;
      }
      if (results[i].truncated() ||
          !check(id, seq++, std::span(storage[i]).first(results[i].stored), got, sum)) {
        if (got.error.empty()) {
          got.error = "truncated";
        }
        break;
      }
    }
  }
  got.sum = sum.value();
  sender.join();
}

TEST(Soak, SixtyFourPairsMoveStampedMessagesWithExactTotals) {
  const auto duration = soak_duration();
  const auto deadline = clock_type::now() + duration;
  std::vector<tally> sent(pair_count);
  std::vector<tally> got(pair_count);
  std::vector<std::thread> receivers;
  receivers.reserve(pair_count);
  for (int id = 0; id < pair_count; ++id) {
    receivers.emplace_back([&, id] {
      switch (id % 4) {
        case 0:
          stream_exact(id, deadline, sent[id], got[id]);
          break;
        case 1:
          stream_framed(id, deadline, sent[id], got[id]);
          break;
        case 2:
          seqpacket_with_fds(id, deadline, sent[id], got[id]);
          break;
        default:
          dgram_batched(id, deadline, sent[id], got[id]);
          break;
      }
    });
  }
  for (auto& t : receivers) {
    t.join();
  }
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t descriptors = 0;
  for (int id = 0; id < pair_count; ++id) {
    SCOPED_TRACE("pair " + std::to_string(id) + " (kind " + std::to_string(id % 4) + ")");
    EXPECT_EQ(sent[id].error, "");
    EXPECT_EQ(got[id].error, "");
    EXPECT_GE(sent[id].messages, min_messages);
    EXPECT_EQ(got[id].messages, sent[id].messages);
    EXPECT_EQ(got[id].bytes, sent[id].bytes);
    EXPECT_EQ(got[id].descriptors, sent[id].descriptors);
    EXPECT_EQ(got[id].sum, sent[id].sum);
    messages += got[id].messages;
    bytes += got[id].bytes;
    descriptors += got[id].descriptors;
  }
  std::printf("soak: %d pairs, %lld s: %llu messages, %llu bytes, %llu descriptors passed\n",
              pair_count, static_cast<long long>(duration.count()),
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(descriptors));
  ::testing::Test::RecordProperty("messages", std::to_string(messages));
  ::testing::Test::RecordProperty("bytes", std::to_string(bytes));
  ::testing::Test::RecordProperty("descriptors", std::to_string(descriptors));
}

}  // namespace
