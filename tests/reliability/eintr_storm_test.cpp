// EINTR storms: a timer signal every 50 us at both the sending and the receiving thread, its
// handler installed without SA_RESTART, while the library moves data. Every byte must arrive
// exactly once and in order (each 8-byte word is stamped with its position and checked where
// it lands, and both ends' checksums must agree), and no call may surface EINTR.
//
// Figures (bytes moved, signals delivered) are printed and recorded as test properties.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/reliability/harness.hpp"
#include "tests/support/fds.hpp"

namespace {

using namespace std::chrono_literals;
using sockpair::dgram;
using sockpair::seqpacket;
using sockpair::shutdown_how;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::reliability::checksum;
using sockpair::reliability::fill_pattern;
using sockpair::reliability::first_mismatch;
using sockpair::reliability::kib;
using sockpair::reliability::scaled_down;
using sockpair::reliability::signal_storm;
using sockpair::reliability::storm_signals;
using sockpair::testing::same_file;

/// The storm's period: one signal per 50 us at each storming thread.
constexpr auto storm_period = 50us;

/// Bytes the stream test moves: 1 GiB; 256 MiB under ThreadSanitizer (see `scaled_down`),
/// where 1 GiB takes over 20 s on a 2-core machine.
constexpr std::uint64_t stream_bytes =
    scaled_down ? std::uint64_t{256} << 20 : std::uint64_t{1} << 30;

/// Bytes the seqpacket test moves, in messages of 8 B to 64 KiB: 128 MiB; 32 MiB under
/// ThreadSanitizer.
constexpr std::uint64_t message_bytes =
    scaled_down ? std::uint64_t{32} << 20 : std::uint64_t{128} << 20;

// What one side of a transfer saw, checked on the test's thread.
struct side_report {
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;
  std::string error;  // empty when the side finished cleanly
};

void record(const char* what, std::uint64_t amount, std::uint64_t signals,
            const char* unit = "bytes moved") {
  std::printf("eintr-storm: %s: %llu %s, %llu signals delivered\n", what,
              static_cast<unsigned long long>(amount), unit,
              static_cast<unsigned long long>(signals));
  ::testing::Test::RecordProperty(std::string(what) + "_amount", std::to_string(amount));
  ::testing::Test::RecordProperty(std::string(what) + "_signals", std::to_string(signals));
}

TEST(EintrStorm, InterruptsABlockingReceiveWithoutTheLibrary) {
  // The storm itself must work: a raw recv(2) on an empty socket fails with EINTR. Were the
  // handler installed with SA_RESTART, or the timer not aimed at this thread, recv would
  // wait for the one-second receive timeout and fail with EAGAIN instead.
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const timeval one_second{1, 0};
  ASSERT_EQ(::setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &one_second, sizeof one_second), 0);
  int err = 0;
  ssize_t got = 0;
  std::thread receiver([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      err = -1;
      return;
    }
    char byte;
    got = ::recv(fds[0], &byte, 1, 0);
    err = errno;
  });
  receiver.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_NE(err, -1) << "could not set up the signal storm";
  EXPECT_EQ(got, -1);
  EXPECT_EQ(err, EINTR);
}

TEST(EintrStorm, StreamDeliversEveryByteOnceInOrder) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const std::uint64_t seed = 0x5eed'0001;
  const std::uint64_t signals_before = storm_signals.load();

  side_report sent;
  std::thread sender([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      sent.error = "no storm";
      return;
    }
    std::vector<std::byte> chunk(1 << 20);
    checksum sum;
    for (std::uint64_t offset = 0; offset < stream_bytes; offset += chunk.size()) {
      fill_pattern(seed, offset, chunk);
      sum.add(chunk);
      sockpair::outgoing transfer(chunk);
      auto r = out.send_all(transfer);
      if (!r) {
        sent.error =
            "send_all: " + r.error().message() + " after " + std::to_string(transfer.done());
        return;
      }
      sent.bytes += transfer.done();
    }
    sent.checksum = sum.value();
    auto shut = out.shutdown(shutdown_how::write);
    if (!shut) {
      sent.error = "shutdown: " + shut.error().message();
    }
  });

  side_report received;
  std::thread receiver([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      received.error = "no storm";
      return;
    }
    // A size that does not divide the sender's chunks, so reads straddle its writes.
    std::vector<std::byte> chunk(200 * kib);
    checksum sum;
    while (received.bytes < stream_bytes) {
      const std::uint64_t left = stream_bytes - received.bytes;
      std::span<std::byte> want(chunk.data(), left < chunk.size() ? left : chunk.size());
      sockpair::incoming transfer(want);
      auto r = in.receive_exact(transfer);
      if (!r) {
        received.error = "receive_exact: " + r.error().message() + " after " +
                         std::to_string(received.bytes + transfer.done());
        return;
      }
      const std::size_t bad = first_mismatch(seed, received.bytes, want);
      if (bad != want.size()) {
        received.error = "wrong data at byte " + std::to_string(received.bytes + bad);
        return;
      }
      sum.add(want);
      received.bytes += want.size();
    }
    received.checksum = sum.value();
    std::byte extra[1];
    auto end = in.receive(extra);  // nothing more: orderly EOF
    if (!end || end.value() != 0) {
      received.error = "expected EOF after the last byte";
    }
  });
  sender.join();
  receiver.join();
  const std::uint64_t signals = storm_signals.load() - signals_before;

  ASSERT_EQ(sent.error, "");
  ASSERT_EQ(received.error, "");
  EXPECT_EQ(sent.bytes, stream_bytes);
  EXPECT_EQ(received.bytes, stream_bytes);
  EXPECT_EQ(received.checksum, sent.checksum);
  EXPECT_GT(signals, 0U);
  record("stream", received.bytes, signals);
}

TEST(EintrStorm, SeqpacketDeliversEveryMessageWholeOnceInOrder) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  // Room for the largest message (AF_UNIX: a message must fit SO_SNDBUF).
  ASSERT_TRUE(out.set_send_buffer_size(256 * kib));
  const std::uint64_t seed = 0x5eed'0002;
  const std::uint64_t signals_before = storm_signals.load();
  // Message k is (k * 7919 % 8192 + 1) words long: 8 B to 64 KiB, in no simple order.
  auto size_of = [](std::uint64_t k) {
    return static_cast<std::size_t>((k * 7919 % 8192 + 1) * 8);
  };

  side_report sent;
  std::uint64_t messages_sent = 0;
  std::thread sender([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      sent.error = "no storm";
      return;
    }
    std::vector<std::byte> message(64 * kib);
    checksum sum;
    for (std::uint64_t k = 0; sent.bytes < message_bytes; ++k) {
      const std::span<std::byte> m(message.data(), size_of(k));
      fill_pattern(seed, sent.bytes, m);
      sum.add(m);
      auto r = out.send(m);
      if (!r || r.value() != m.size()) {
        sent.error = "send: " + (r ? std::to_string(r.value()) : r.error().message());
        return;
      }
      sent.bytes += m.size();
      ++messages_sent;
    }
    sent.checksum = sum.value();
    static_cast<void>(out.shutdown(shutdown_how::write));
  });

  side_report received;
  std::uint64_t messages_received = 0;
  std::thread receiver([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      received.error = "no storm";
      return;
    }
    std::vector<std::byte> buffer(64 * kib);
    checksum sum;
    for (std::uint64_t k = 0;; ++k) {
      auto r = in.receive_message(buffer);
      if (!r) {
        received.error = "receive_message: " + r.error().message();
        return;
      }
      if (r.value().end_of_stream) {
        break;
      }
      const std::span<const std::byte> m(buffer.data(), r.value().stored);
      if (r.value().truncated() || m.size() != size_of(k)) {
        received.error = "message " + std::to_string(k) + " has " + std::to_string(m.size()) +
                         " bytes, expected " + std::to_string(size_of(k));
        return;
      }
      if (first_mismatch(seed, received.bytes, m) != m.size()) {
        received.error = "message " + std::to_string(k) + " has wrong content";
        return;
      }
      sum.add(m);
      received.bytes += m.size();
      ++messages_received;
    }
    received.checksum = sum.value();
  });
  sender.join();
  receiver.join();
  const std::uint64_t signals = storm_signals.load() - signals_before;

  ASSERT_EQ(sent.error, "");
  ASSERT_EQ(received.error, "");
  EXPECT_EQ(messages_received, messages_sent);
  EXPECT_EQ(received.bytes, sent.bytes);
  EXPECT_EQ(received.checksum, sent.checksum);
  EXPECT_GT(signals, 0U);
  record("seqpacket", received.bytes, signals);
}

TEST(EintrStorm, WaitReadableTimesOutOnlyAfterItsTimeout) {
  // The contract under test: "a signal does not end the wait early". Measured with the
  // same steady clock the library uses, the wait lasts at least its timeout.
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::uint64_t signals_before = storm_signals.load();
  std::string error;
  std::thread waiter([&] {
    signal_storm storm(storm_period);
    if (!storm.ok()) {
      error = "no storm";
      return;
    }
    for (int i = 0; i < 5; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto r = a.wait_readable(20ms);
      const auto waited = std::chrono::steady_clock::now() - start;
      if (!r) {
        error = "wait_readable: " + r.error().message();
        return;
      }
      if (r.value() != sockpair::readiness::timed_out) {
        error = "nothing was sent, yet the wait reported ready";
        return;
      }
      if (waited < 20ms) {
        error =
            "the wait ended early, after " +
            std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(waited).count()) +
            " us";
        return;
      }
    }
    // Data that is there is seen at once, storm or not.
    if (!b.send(std::as_bytes(std::span("x", 1)))) {
      error = "send failed";
      return;
    }
    auto r = a.wait_readable(10s);
    if (!r || r.value() != sockpair::readiness::ready) {
      error = "data queued, yet the wait did not report ready";
    }
  });
  waiter.join();
  EXPECT_EQ(error, "");
  EXPECT_GT(storm_signals.load() - signals_before, 0U);
}

/// Bytes of frames, and of batched datagrams, the other paths move under the storm; 8 MiB
/// and 4 MiB under ThreadSanitizer.
constexpr std::uint64_t frame_bytes =
    scaled_down ? std::uint64_t{8} << 20 : std::uint64_t{64} << 20;
constexpr std::uint64_t batch_bytes =
    scaled_down ? std::uint64_t{4} << 20 : std::uint64_t{32} << 20;
/// Messages that each carry a descriptor under the storm.
constexpr int descriptor_messages = scaled_down ? 500 : 5000;

// Runs `send` and `receive` in two threads, each under its own storm; returns their errors.
template <class Send, class Receive>
std::pair<std::string, std::string> under_storm(Send send, Receive receive) {
  std::string send_error;
  std::string receive_error;
  std::thread sender([&] {
    signal_storm storm(storm_period);
    send_error = storm.ok() ? send() : "no storm";
  });
  std::thread receiver([&] {
    signal_storm storm(storm_period);
    receive_error = storm.ok() ? receive() : "no storm";
  });
  sender.join();
  receiver.join();
  return {send_error, receive_error};
}

TEST(EintrStorm, FramesArriveWholeOnceInOrder) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const std::uint64_t seed = 0x5eed'0003;
  const std::uint64_t signals_before = storm_signals.load();
  // Frame k has (k * 7919 % 4096 + 1) words.
  auto words_of = [](std::uint64_t k) { return k * 7919 % 4096 + 1; };
  std::uint64_t frames_sent = 0;
  std::uint64_t received = 0;
  auto [send_error, receive_error] = under_storm(
      [&]() -> std::string {
        sockpair::frame_writer writer(out, {.flush_threshold = 32 * kib});
        std::vector<std::byte> frame(std::size_t{4096} * 8);
        std::uint64_t offset = 0;
        for (std::uint64_t k = 0; offset < frame_bytes; ++k) {
          const std::span<std::byte> f(frame.data(), words_of(k) * 8);
          fill_pattern(seed, offset, f);
          if (auto r = writer.write(f); !r) {
            return "write: " + r.error().message();
          }
          offset += f.size();
          ++frames_sent;
        }
        if (auto r = writer.flush(); !r) {
          return "flush: " + r.error().message();
        }
        static_cast<void>(out.shutdown(shutdown_how::write));
        return "";
      },
      [&]() -> std::string {
        sockpair::frame_reader reader(in);
        for (std::uint64_t k = 0;; ++k) {
          auto r = reader.read();
          if (!r) {
            return "read: " + r.error().message();
          }
          if (!r.value()) {
            return "";
          }
          const auto f = *r.value();
          if (f.size() != words_of(k) * 8 || first_mismatch(seed, received, f) != f.size()) {
            return "frame " + std::to_string(k) + " differs";
          }
          received += f.size();
        }
      });
  EXPECT_EQ(send_error, "");
  EXPECT_EQ(receive_error, "");
  EXPECT_GE(received, frame_bytes);
  record("frames", received, storm_signals.load() - signals_before);
}

TEST(EintrStorm, PassedDescriptorsArriveOnceEachWithTheirMessage) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const int file = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  const std::uint64_t signals_before = storm_signals.load();
  int received = 0;
  auto [send_error, receive_error] = under_storm(
      [&]() -> std::string {
        for (int i = 0; i < descriptor_messages; ++i) {
          const auto index = static_cast<std::uint32_t>(i);
          auto r = sockpair::send_with_fds(out, std::as_bytes(std::span(&index, 1)), {file});
          if (!r) {
            return "send_with_fds: " + r.error().message();
          }
        }
        static_cast<void>(out.shutdown(shutdown_how::write));
        return "";
      },
      [&]() -> std::string {
        for (;;) {
          std::uint32_t index = 0;
          auto r = sockpair::receive_with_fds<1>(in, std::as_writable_bytes(std::span(&index, 1)));
          if (!r) {
            return "receive_with_fds: " + r.error().message();
          }
          if (r.value().size == 0) {
            return "";  // end of stream
          }
          if (index != static_cast<std::uint32_t>(received) || r.value().fds.size() != 1 ||
              !same_file(r.value().fds[0].get(), file)) {
            return "message " + std::to_string(received) + " wrong";
          }
          ++received;
        }
      });
  ::close(file);
  EXPECT_EQ(send_error, "");
  EXPECT_EQ(receive_error, "");
  EXPECT_EQ(received, descriptor_messages);
  record("descriptors", static_cast<std::uint64_t>(received), storm_signals.load() - signals_before,
         "messages each with a descriptor");
}

TEST(EintrStorm, BatchedDatagramsArriveWholeOnceInOrder) {
  auto pair = socket_pair<dgram>::create();
  ASSERT_TRUE(pair);
  auto& out = pair.value().first;
  auto& in = pair.value().second;
  const std::uint64_t seed = 0x5eed'0004;
  constexpr std::size_t message = 4096;
  constexpr std::uint64_t total_messages = batch_bytes / message;
  const std::uint64_t signals_before = storm_signals.load();
  std::uint64_t received = 0;
  auto [send_error, receive_error] = under_storm(
      [&]() -> std::string {
        std::vector<std::byte> storage(16 * message);
        std::array<std::span<const std::byte>, 16> spans;
        for (std::uint64_t k = 0; k < total_messages;) {
          const std::size_t count = std::min<std::uint64_t>(16, total_messages - k);
          for (std::size_t i = 0; i < count; ++i) {
            const std::span<std::byte> m(storage.data() + i * message, message);
            fill_pattern(seed, (k + i) * message, m);
            spans[i] = m;
          }
          std::size_t done = 0;
          while (done < count) {
            auto r = sockpair::send_batch(out, std::span(spans).subspan(done, count - done));
            if (!r) {
              return "send_batch: " + r.error().message();
            }
            done += r.value();
          }
          k += count;
        }
        return "";
      },
      [&]() -> std::string {
        std::vector<std::byte> storage(16 * message);
        std::array<std::span<std::byte>, 16> spans;
        for (std::size_t i = 0; i < spans.size(); ++i) {
          spans[i] = std::span(storage).subspan(i * message, message);
        }
        std::array<sockpair::message_info, 16> info{};
        while (received < total_messages) {
          auto r = sockpair::receive_batch(in, spans, info);
          if (!r) {
            return "receive_batch: " + r.error().message();
          }
          for (std::size_t i = 0; i < r.value(); ++i, ++received) {
            if (info[i].truncated() || info[i].stored != message ||
                first_mismatch(seed, received * message, spans[i]) != message) {
              return "datagram " + std::to_string(received) + " differs";
            }
          }
        }
        return "";
      });
  EXPECT_EQ(send_error, "");
  EXPECT_EQ(receive_error, "");
  EXPECT_EQ(received, total_messages);
  record("batched", received * message, storm_signals.load() - signals_before);
}

// ---- Socket timeouts under signals ------------------------------------------------------------
//
// BUG (reported, not fixed here: socketpair/detail/io.hpp belongs to the I/O API): with
// SO_RCVTIMEO or SO_SNDTIMEO set, Linux fails an interrupted socket call with EINTR instead
// of restarting it (signal(7): "never restarted ... if a timeout has been set on the socket"),
// precisely so that a signal cannot stretch the timeout. The library restarts it anyway,
// each time with the whole timeout again, so under periodic signals (a profiler's SIGPROF, a
// timer) the timeout never expires and the call blocks until data comes. These two tests
// reproduce it: each fails (its watchdog releases the blocked call after 10 s) until the
// library retries an interrupted timed call only for the time that is left. They are
// disabled so that CI stays green; run them with --gtest_also_run_disabled_tests.

// Runs `blocked` (a call that should fail with EAGAIN after `timeout`) in a thread under a
// signal storm. If it has not returned after `patience`, calls `release` to unblock it.
// Returns what the call returned, and whether the watchdog had to release it.
template <class Call, class Release>
std::pair<std::error_code, bool> run_with_watchdog(Call blocked, Release release,
                                                   std::chrono::seconds patience) {
  std::atomic<bool> done{false};
  std::error_code error;
  std::thread caller([&] {
    signal_storm storm(storm_period);
    error = blocked();
    done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + patience;
  while (!done && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  const bool released = !done;
  if (released) {
    release();
  }
  caller.join();
  return {error, released};
}

// Each blocking call below waits on a socket with a 20 ms timeout and nothing to do. The
// kernel re-arms SO_RCVTIMEO/SO_SNDTIMEO on every restart, so a library that only restarted
// after EINTR would wait for as long as the signals keep coming; the watchdog's 10 s is a
// hang detector, 500 times the timeout, not a measurement.
constexpr auto short_timeout = 20ms;
constexpr auto patience = 10s;

enum class direction { receive, send };

// A pair whose first end times out after 20 ms in `which` direction and has nothing to do
// there: nothing queued to receive, or a send buffer already full.
template <class Type>
sockpair::result<socket_pair<Type>> stuck_pair(direction which) {
  BOOST_OUTCOME_TRY(auto pair, socket_pair<Type>::create());
  auto& a = pair.first;
  if (which == direction::receive) {
    BOOST_OUTCOME_TRY(a.set_receive_timeout(short_timeout));
    return pair;
  }
  BOOST_OUTCOME_TRY(a.set_send_timeout(short_timeout));
  BOOST_OUTCOME_TRY(a.set_nonblocking(true));
  const std::vector<std::byte> chunk(64 * kib);
  while (a.send(chunk)) {
  }
  BOOST_OUTCOME_TRY(a.set_nonblocking(false));
  return pair;
}

// Runs `blocked` under the storm and expects its timeout to expire: `operation_would_block`
// before the watchdog has to call `release`.
template <class Blocked, class Release>
void expect_timeout_expires(Blocked blocked, Release release) {
  auto [error, released] = run_with_watchdog(
      [&]() -> std::error_code {
        auto r = blocked();
        return r ? std::error_code() : r.error();
      },
      release, patience);
  EXPECT_FALSE(released) << "a 20 ms timeout did not expire in 10 s of signals";
  EXPECT_EQ(error, std::errc::operation_would_block);
}

TEST(EintrStorm, ReceiveTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<stream>(direction::receive);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  std::array<std::byte, 1> buffer{};
  expect_timeout_expires([&] { return a.receive(buffer); },
                         [&] { static_cast<void>(b.send_all(buffer)); });
}

TEST(EintrStorm, ReceiveExactTimeoutExpiresDespiteSignalsAndReportsWhatArrived) {
  auto pair = stuck_pair<stream>(direction::receive);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::array<std::byte, 3> head{std::byte{1}, std::byte{2}, std::byte{3}};
  ASSERT_TRUE(b.send_all(head));
  std::array<std::byte, 8> buffer{};
  sockpair::incoming in(buffer);
  expect_timeout_expires([&] { return a.receive_exact(in); },
                         [&] { static_cast<void>(b.shutdown(shutdown_how::both)); });
  EXPECT_EQ(in.done(), head.size());
  EXPECT_EQ(buffer[2], std::byte{3});
}

TEST(EintrStorm, SeqpacketReceiveMessageTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<seqpacket>(direction::receive);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  std::array<std::byte, 16> buffer{};
  expect_timeout_expires([&] { return a.receive_message(buffer); },
                         [&] { static_cast<void>(b.send(std::span(buffer).first(1))); });
}

TEST(EintrStorm, ReceiveWithFdsTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<seqpacket>(direction::receive);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  std::array<std::byte, 16> buffer{};
  expect_timeout_expires([&] { return sockpair::receive_with_fds<1>(a, std::span(buffer)); },
                         [&] { static_cast<void>(b.send(std::span(buffer).first(1))); });
}

TEST(EintrStorm, ReceiveBatchTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<dgram>(direction::receive);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  std::array<std::byte, 16> buffer{};
  const std::array<std::span<std::byte>, 1> buffers{std::span(buffer)};
  std::array<sockpair::message_info, 1> results{};
  expect_timeout_expires([&] { return sockpair::receive_batch(a, buffers, results); },
                         [&] { static_cast<void>(b.send(std::span(buffer).first(1))); });
}

TEST(EintrStorm, SendTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<stream>(direction::send);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::vector<std::byte> data(64 * kib);
  expect_timeout_expires([&] { return a.send(data); },
                         [&] { static_cast<void>(b.shutdown(shutdown_how::both)); });
}

TEST(EintrStorm, SendAllTimeoutExpiresDespiteSignalsAndReportsWhatWentOut) {
  auto pair = stuck_pair<stream>(direction::send);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::vector<std::byte> data(64 * kib);
  sockpair::outgoing out(data);
  expect_timeout_expires([&] { return a.send_all(out); },
                         [&] { static_cast<void>(b.shutdown(shutdown_how::both)); });
  EXPECT_LT(out.done(), data.size());
}

TEST(EintrStorm, SendWithFdsTimeoutExpiresDespiteSignals) {
  auto pair = stuck_pair<stream>(direction::send);
  ASSERT_TRUE(pair) << pair.error().message();
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::vector<std::byte> data(64 * kib);
  const int file = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  expect_timeout_expires([&] { return sockpair::send_with_fds(a, data, {file}); },
                         [&] { static_cast<void>(b.shutdown(shutdown_how::both)); });
  ::close(file);
}

}  // namespace
