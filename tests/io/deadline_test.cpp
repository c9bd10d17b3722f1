// Deadlines on the calls that make more than one system call (send_all, receive_exact, their
// gathered and scattered forms, frame_reader::read, frame_writer::write/flush), and the
// transfer objects that carry their progress: a peer that trickles one byte at a time keeps a
// per-call timeout (SO_RCVTIMEO/SO_SNDTIMEO) from ever firing, but not a deadline.
//
// No assertion here depends on how fast anything runs: the trickling peer goes on for far
// longer than the deadline (seconds against 50 ms), and each test stops it when done.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

using namespace std::chrono_literals;

// Sends `data` one byte every millisecond from another thread until it is all sent or
// stop() is called; the per-call timeouts of the receiving end never fire in between.
class trickler {
 public:
  trickler(socket<stream>& out, std::span<const std::byte> data)
      : thread_([this, &out, data] {
          for (std::size_t i = 0; i < data.size() && !stop_.load(); ++i) {
            if (!out.send(data.subspan(i, 1))) {
              return;
            }
            sent_.store(i + 1);
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  trickler(const trickler&) = delete;
  trickler& operator=(const trickler&) = delete;
  ~trickler() { stop(); }

  // Stops sending; returns how many bytes were sent.
  std::size_t stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    return sent_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> sent_{0};
  std::thread thread_;
};

// Reads one byte every millisecond from another thread until stop(), keeping what it read.
class slow_reader {
 public:
  explicit slow_reader(socket<stream>& in)
      : thread_([this, &in] {
          std::array<std::byte, 1> one{};
          while (!stop_.load()) {
            auto got = in.receive(one);
            if (!got || got.value() == 0) {
              return;
            }
            received_.push_back(one[0]);
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  slow_reader(const slow_reader&) = delete;
  slow_reader& operator=(const slow_reader&) = delete;
  ~slow_reader() { stop(); }

  // Stops reading; returns what was read.
  std::vector<std::byte> stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    return received_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::byte> received_;  // only the reading thread touches it before join
  std::thread thread_;
};

// Reads whatever is queued on a non-blocking end.
std::vector<std::byte> drain(socket<stream>& in) {
  std::vector<std::byte> all;
  std::array<std::byte, 65536> buffer{};
  for (;;) {
    auto got = in.receive(buffer);
    if (!got || got.value() == 0) {
      return all;
    }
    all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<long>(got.value()));
  }
}

TEST(ReceiveExactDeadline, GivesUpAgainstATricklingPeerWithProgressExact) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.second.set_receive_timeout(2s));  // never fires: a byte comes every ms
  const auto payload = pattern(1, 20'000);           // 20 s at one byte per millisecond
  trickler peer(pair.first, payload);
  std::vector<std::byte> buffer(payload.size());
  incoming in(buffer);
  auto got = pair.second.receive_exact(in, 50ms);
  ASSERT_FALSE(got) << "received all " << payload.size() << " bytes: the trickler ran out";
  EXPECT_EQ(got.error(), std::errc::timed_out) << got.error().message();
  EXPECT_LT(in.done(), payload.size());
  const std::size_t sent = peer.stop();
  // Resuming with the same transfer receives the rest of what was sent, no byte twice.
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  auto rest = pair.second.receive_exact(in);
  ASSERT_FALSE(rest);
  EXPECT_EQ(rest.error(), errc::unexpected_eof);
  ASSERT_EQ(in.done(), sent);
  EXPECT_TRUE(
      std::equal(buffer.begin(), buffer.begin() + static_cast<long>(sent), payload.begin()));
}

TEST(ReceiveExactDeadline, APassedDeadlineTakesWhatIsQueuedAndDoesNotWait) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.send(std::string_view("abc")));
  std::array<char, 8> buffer{};
  incoming in(buffer);
  auto got = pair.second.receive_exact(in, deadline::passed());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::timed_out);
  EXPECT_EQ(in.done(), 3u);
  EXPECT_EQ(std::string_view(buffer.data(), 3), "abc");
}

TEST(ReceiveExactDeadline, ScatterGivesUpAgainstATricklingPeer) {
  auto pair = socket_pair<stream>::create().value();
  const auto payload = pattern(2, 20'000);
  trickler peer(pair.first, payload);
  std::vector<std::byte> head(10);
  std::vector<std::byte> tail(payload.size() - 10);
  const std::array<std::span<std::byte>, 2> parts = {head, tail};
  incoming_buffers in(parts);
  auto got = pair.second.receive_exact(in, 50ms);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::timed_out);
  const std::size_t done = in.done();
  const std::size_t sent = peer.stop();
  EXPECT_LE(done, sent);
  EXPECT_LT(done, payload.size());
}

TEST(SendAllDeadline, GivesUpAgainstASlowReaderAndReportsExactlyWhatWentOut) {
  auto pair = socket_pair<stream>::create().value();
  ASSERT_TRUE(pair.first.set_send_timeout(2s));  // never fires: a byte is read every ms
  const auto payload = pattern(3, std::size_t{8} << 20);
  slow_reader reader(pair.second);
  outgoing out(payload);
  auto sent = pair.first.send_all(out, 50ms);
  ASSERT_FALSE(sent) << "8 MiB went out to a reader of one byte a millisecond";
  EXPECT_EQ(sent.error(), std::errc::timed_out) << sent.error().message();
  const std::size_t done = out.done();
  EXPECT_LT(done, payload.size());
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  std::vector<std::byte> received = reader.stop();
  ASSERT_TRUE(pair.second.set_nonblocking(true));
  const auto rest = drain(pair.second);
  received.insert(received.end(), rest.begin(), rest.end());
  ASSERT_EQ(received.size(), done) << "done must count exactly the bytes that went out";
  EXPECT_TRUE(std::equal(received.begin(), received.end(), payload.begin()));
}

TEST(SendAllDeadline, GatherGivesUpAgainstASlowReader) {
  auto pair = socket_pair<stream>::create().value();
  const auto payload = pattern(4, std::size_t{8} << 20);
  slow_reader reader(pair.second);
  const std::array<std::span<const std::byte>, 2> parts = {
      std::span<const std::byte>(payload).first(100),
      std::span<const std::byte>(payload).subspan(100)};
  outgoing_buffers out(parts);
  auto sent = pair.first.send_all(out, 50ms);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::timed_out);
  const std::size_t done = out.done();
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  std::vector<std::byte> received = reader.stop();
  ASSERT_TRUE(pair.second.set_nonblocking(true));
  const auto rest = drain(pair.second);
  received.insert(received.end(), rest.begin(), rest.end());
  EXPECT_EQ(received.size(), done);
}

// A transfer binds the bytes to their progress: a finished transfer sends nothing more, and a
// new message needs a new transfer (the `done` counter it replaces let "first-" and
// "second-message" arrive as "first--message").
TEST(Transfer, BindsItsBytesSoThatProgressCannotBeReusedForOthers) {
  auto pair = socket_pair<stream>::create({.nonblocking = true}).value();
  outgoing first(std::string_view("first-"));
  ASSERT_EQ(pair.first.send_all(first).value(), 6u);
  EXPECT_TRUE(first.complete());
  ASSERT_EQ(pair.first.send_all(first).value(), 6u) << "a finished transfer sends nothing more";
  outgoing second(std::string_view("second-message"));
  ASSERT_TRUE(pair.first.send_all(second));
  std::array<char, 64> buffer{};
  auto got = pair.second.receive(buffer);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(buffer.data(), got.value()), "first-second-message");
}

TEST(FrameReaderDeadline, GivesUpOnAFrameThatTricklesInAndResumesIt) {
  auto pair = socket_pair<stream>::create().value();
  std::vector<std::byte> wire(4 + 10'000);
  wire[0] = std::byte{0x10};  // 10'000 = 0x2710, little-endian
  wire[1] = std::byte{0x27};
  const auto body = pattern(5, 10'000);
  std::copy(body.begin(), body.end(), wire.begin() + 4);
  trickler peer(pair.first, wire);
  frame_reader reader(pair.second);
  auto got = reader.read(50ms);
  ASSERT_FALSE(got) << "a 10 kB frame arrived a byte a millisecond within 50 ms";
  EXPECT_EQ(got.error(), std::errc::timed_out);
  const std::size_t sent = peer.stop();
  // The bytes read so far stay buffered: the rest of the frame completes it.
  ASSERT_TRUE(pair.first.send_all(std::span<const std::byte>(wire).subspan(sent)));
  auto frame = reader.read(5s);  // a watchdog only: the bytes are all queued
  ASSERT_TRUE(frame) << frame.error().message();
  ASSERT_TRUE(frame.value().has_value());
  EXPECT_TRUE(std::ranges::equal(*frame.value(), body));
}

TEST(FrameWriterDeadline, FlushGivesUpAgainstASlowReaderAndKeepsTheRestBuffered) {
  auto pair = socket_pair<stream>::create().value();
  slow_reader reader(pair.second);
  frame_writer writer(pair.first, {.flush_threshold = SIZE_MAX, .max_frame_size = 8u << 20});
  const auto frame = pattern(6, std::size_t{8} << 20);
  ASSERT_TRUE(writer.write(frame));
  auto flushed = writer.flush(50ms);
  ASSERT_FALSE(flushed);
  EXPECT_EQ(flushed.error(), std::errc::timed_out);
  EXPECT_GT(writer.pending_bytes(), 0u);
  EXPECT_LE(writer.pending_bytes(), frame.size() + 4);
  ASSERT_TRUE(pair.first.shutdown(shutdown_how::write));
  std::vector<std::byte> received = reader.stop();
  ASSERT_TRUE(pair.second.set_nonblocking(true));
  const auto rest = drain(pair.second);
  received.insert(received.end(), rest.begin(), rest.end());
  EXPECT_EQ(received.size() + writer.pending_bytes(), frame.size() + 4);
}

TEST(FrameWriterDeadline, WriteThatMustFlushGivesUpAndRefusesTheFrame) {
  auto pair = socket_pair<stream>::create().value();
  slow_reader reader(pair.second);
  frame_writer writer(pair.first, {.flush_threshold = 1, .max_frame_size = 8u << 20});
  const auto frame = pattern(7, std::size_t{8} << 20);
  auto wrote = writer.write(frame, 50ms);
  // The frame itself went (partly) out in this call: it is accepted, the rest stays buffered.
  ASSERT_TRUE(wrote) << wrote.error().message();
  EXPECT_GT(writer.pending_bytes(), 0u);
  auto next = writer.write(frame, 50ms);
  ASSERT_FALSE(next) << "a backlog past the threshold must be flushed before a new frame";
  EXPECT_EQ(next.error(), std::errc::timed_out);
  reader.stop();
}

}  // namespace
}  // namespace sockpair::testing
