// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Many messages of `param` bytes in one direction: a writer thread (the benchmark loop) and a
// reader thread that checks every message's size and stamp.
//
//   messages/pipe_write_per_message/<size>          pipe(2), one write(2) per message; the
//                                                   reader reads up to 64 KiB per read(2)
//   messages/raw_seqpacket_send_per_message/<size>  seqpacket pair, one send(2) and one
//                                                   recv(2) per message
//   messages/sockpair_seqpacket_batched/<size>      seqpacket pair, send_batch/receive_batch
//                                                   of up to 64 messages (256 KiB) per call
//   messages/sockpair_framed_stream/<size>          stream pair, frame_writer/frame_reader
//   messages/framing_over_pipe/<size>               the same framing code over pipe(2)
//   messages/shm_channel/<size>                     shm_channel (shared memory, 1 MiB rings):
//                                                   one `send` per message, each published at
//                                                   once; the reader takes each in place
//                                                   (`receive_view`)
//   messages/shm_channel_batched/<size>             the same with `shm_publish::batched` and
//                                                   one `flush()` per batch, as the framed
//                                                   contenders flush once per batch; the
//                                                   reader takes every message published so
//                                                   far in one `receive_batch` (checked in
//                                                   place, one release per call)
//   messages/bare_spsc_ring/<size>                  the ceiling for the two above: a ring of
//                                                   the same records and size in one
//                                                   process's memory, with nothing the
//                                                   channel adds (no validation, no results,
//                                                   no sockets: release/acquire indices, the
//                                                   head published per batch as
//                                                   shm_channel_batched does, the tail
//                                                   (a plain release store) once per
//                                                   ring/16 bytes read and whenever the
//                                                   reader has read all it saw;
//                                                   a sleeper woken once per ring/16 bytes;
//                                                   waits spin 20 µs, then std::atomic::wait;
//                                                   the end is a record of its own)
//
// And messages_2cpu/<contender>/64: the same 64-byte case for pipe_write_per_message,
// sockpair_framed_stream, shm_channel, shm_channel_batched and bare_spsc_ring with the writer
// (the benchmark thread) bound to CPU 0 and the reader to CPU 1, as latency_2cpu does: the
// steady state of a producer and a consumer that run at the same time, which neither the
// free case (the scheduler may put both on one CPU) nor the report's pinned one (both on
// CPU 0) guarantees. Skipped (an error in the report) without CPUs 0 and 1.
//
// Kernel default buffers everywhere. One iteration moves a batch of 4 MiB (at least 16
// messages); its time runs from the writer's first call until the reader holds the batch's
// last message (manual time), so nothing still in a kernel or framing buffer counts as moved.
// The CPU column is the process's CPU time (writer and reader) per batch: on a loaded machine
// it varies far less than the wall-clock rate.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t batch_bytes = std::size_t{4} << 20;
// The batched contender's batch: 64 messages, or fewer if that would pass 256 KiB (beyond,
// the buffers only spread over more cache; the kernel's buffer holds about 208 KiB anyway).
constexpr std::size_t messages_per_call = 64;
constexpr std::size_t bytes_per_call = std::size_t{256} * 1024;

// Writes all of `data` to a descriptor with write(2) (a pipe may take a large write in parts).
void write_fully(int fd, const_bytes data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("messages: write");
    }
    done += static_cast<std::size_t>(n);
  }
}

// Fills `buffer` with read(2); false if the stream ended before the first byte.
bool read_fully(int fd, bytes buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + done, buffer.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("messages: read");
    }
    if (n == 0) {
      if (done == 0) {
        return false;
      }
      fail("messages: end of stream inside a batch");
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void check_message(const_bytes message, std::size_t size, std::uint64_t sequence) {
  if (message.size() != size) {
    fail("messages: a message of the wrong size");
  }
  if (!has_stamp(message, sequence)) {
    fail("messages: message lost or out of order");
  }
}

std::pair<fd, fd> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    fail("pipe2");
  }
  return {fd(fds[0]), fd(fds[1])};
}

template <class Type>
std::pair<sockpair::socket<Type>, sockpair::socket<Type>> make_pair() {
  auto pair = sockpair::socket_pair<Type>::create();
  if (!pair) {
    fail("socket_pair::create");
  }
  return {std::move(pair.value().first), std::move(pair.value().second)};
}

// ---- The contenders: each writes and reads `count` stamped messages per batch --------------

class pipe_write_per_message {
 public:
  static constexpr const char* name = "pipe_write_per_message";

  explicit pipe_write_per_message(std::size_t size)
      : size_(size),
        message_(size, std::byte{0x5a}),
        chunk_(std::max<std::size_t>(1, (std::size_t{64} * 1024) / size) * size) {
    std::tie(read_end_, write_end_) = make_pipe();
  }

  void write_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      stamp(message_, sequence++);
      write_fully(write_end_.get(), message_);
    }
  }

  // Reads whole chunks of messages (up to 64 KiB per read(2)): the pipe's best case.
  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    while (count > 0) {
      const std::size_t in_chunk = std::min(count, chunk_.size() / size_);
      if (!read_fully(read_end_.get(), bytes(chunk_).first(in_chunk * size_))) {
        return false;
      }
      for (std::size_t i = 0; i < in_chunk; ++i) {
        check_message(bytes(chunk_).subspan(i * size_, size_), size_, sequence++);
      }
      count -= in_chunk;
    }
    return true;
  }

  void end_writing() { write_end_.reset(); }

 private:
  std::size_t size_;
  std::vector<std::byte> message_;
  std::vector<std::byte> chunk_;
  fd read_end_;
  fd write_end_;
};

class raw_seqpacket_send_per_message {
 public:
  static constexpr const char* name = "raw_seqpacket_send_per_message";

  explicit raw_seqpacket_send_per_message(std::size_t size)
      : size_(size), message_(size, std::byte{0x5a}), buffer_(size + 1) {
    std::array<int, 2> fds{};
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds.data()) != 0) {
      fail("socketpair");
    }
    writer_.reset(fds[0]);
    reader_.reset(fds[1]);
  }

  void write_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      stamp(message_, sequence++);
      ssize_t n = 0;
      do {
        n = ::send(writer_.get(), message_.data(), message_.size(), MSG_NOSIGNAL);
      } while (n < 0 && errno == EINTR);
      if (n != static_cast<ssize_t>(size_)) {
        fail("messages: send");
      }
    }
  }

  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      ssize_t n = 0;
      do {
        n = ::recv(reader_.get(), buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        fail("messages: recv");
      }
      if (n == 0 && i == 0) {
        return false;  // the end (every message here has at least 64 bytes)
      }
      check_message(bytes(buffer_).first(static_cast<std::size_t>(n)), size_, sequence++);
    }
    return true;
  }

  void end_writing() { ::shutdown(writer_.get(), SHUT_WR); }

 private:
  std::size_t size_;
  std::vector<std::byte> message_;
  std::vector<std::byte> buffer_;
  fd writer_;
  fd reader_;
};

class sockpair_seqpacket_batched {
 public:
  static constexpr const char* name = "sockpair_seqpacket_batched";

  explicit sockpair_seqpacket_batched(std::size_t size)
      : size_(size),
        per_call_(std::clamp<std::size_t>(bytes_per_call / size, 1, messages_per_call)),
        out_storage_(per_call_ * size, std::byte{0x5a}),
        in_storage_(per_call_ * (size + 1)) {
    std::tie(writer_, reader_) = make_pair<sockpair::seqpacket>();
    for (std::size_t i = 0; i < per_call_; ++i) {
      out_[i] = const_bytes(out_storage_).subspan(i * size, size);
      in_[i] = bytes(in_storage_).subspan(i * (size + 1), size + 1);
    }
  }

  void write_batch(std::size_t count, std::uint64_t& sequence) {
    while (count > 0) {
      const std::size_t n = std::min(count, per_call_);
      for (std::size_t i = 0; i < n; ++i) {
        stamp(bytes(out_storage_).subspan(i * size_, size_), sequence++);
      }
      const auto batch = std::span(out_).first(n);
      for (std::size_t done = 0; done < n;) {
        auto sent = sockpair::send_batch(writer_, batch.subspan(done));
        if (!sent) {
          fail("messages: send_batch");
        }
        done += sent.value();
      }
      count -= n;
    }
  }

  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    bool first = true;
    while (count > 0) {
      const std::size_t n = std::min(count, per_call_);
      auto got = sockpair::receive_batch(reader_, std::span(in_).first(n), results_);
      if (!got) {
        fail("messages: receive_batch");
      }
      for (std::size_t i = 0; i < got.value(); ++i) {
        if (results_[i].stored == 0 && first && i == 0) {
          return false;  // the end reads as empty messages
        }
        if (results_[i].truncated()) {
          fail("messages: a message of the wrong size");
        }
        check_message(in_[i].first(results_[i].stored), size_, sequence++);
      }
      first = false;
      count -= got.value();
    }
    return true;
  }

  void end_writing() { static_cast<void>(writer_.shutdown(sockpair::shutdown_how::write)); }

 private:
  std::size_t size_;
  std::size_t per_call_;
  std::vector<std::byte> out_storage_;
  std::vector<std::byte> in_storage_;
  std::array<const_bytes, messages_per_call> out_;
  std::array<bytes, messages_per_call> in_;
  std::array<sockpair::message_info, messages_per_call> results_;
  sockpair::socket<sockpair::seqpacket> writer_;
  sockpair::socket<sockpair::seqpacket> reader_;
};

// The framed contenders: one frame per message, default writer and reader options.
template <class Stream>
class framed {
 public:
  void write_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      stamp(message_, sequence++);
      if (!writer_.write(message_)) {
        fail("messages: frame_writer::write");
      }
    }
    if (!writer_.flush()) {
      fail("messages: frame_writer::flush");
    }
  }

  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      auto frame = reader_.read();
      if (!frame) {
        fail("messages: frame_reader::read");
      }
      if (!frame.value()) {
        if (i == 0) {
          return false;
        }
        fail("messages: end of stream inside a batch");
      }
      check_message(*frame.value(), size_, sequence++);
    }
    return true;
  }

 protected:
  framed(std::size_t size, Stream& out, Stream& in)
      : size_(size), message_(size, std::byte{0x5a}), writer_(out), reader_(in) {}

 private:
  std::size_t size_;
  std::vector<std::byte> message_;
  sockpair::frame_writer<Stream> writer_;
  sockpair::frame_reader<Stream> reader_;
};

// Members that must exist before the `framed` base is built.
struct stream_ends {
  stream_ends() { std::tie(writer, reader) = make_pair<sockpair::stream>(); }
  sockpair::socket<sockpair::stream> writer;
  sockpair::socket<sockpair::stream> reader;
};

class sockpair_framed_stream : private stream_ends,
                               public framed<sockpair::socket<sockpair::stream>> {
 public:
  static constexpr const char* name = "sockpair_framed_stream";
  explicit sockpair_framed_stream(std::size_t size) : framed(size, writer, reader) {}
  void end_writing() { static_cast<void>(writer.shutdown(sockpair::shutdown_how::write)); }
};

struct pipe_ends {
  pipe_ends() : pipe(make_pipe()), reader(pipe.first.get()), writer(pipe.second.get()) {}
  std::pair<fd, fd> pipe;
  sockpair::fd_stream reader;
  sockpair::fd_stream writer;
};

class framing_over_pipe : private pipe_ends, public framed<sockpair::fd_stream> {
 public:
  static constexpr const char* name = "framing_over_pipe";
  explicit framing_over_pipe(std::size_t size) : framed(size, writer, reader) {}
  void end_writing() { pipe.second.reset(); }
};

template <sockpair::shm_publish How>
class shm_channel_messages {
 public:
  static constexpr const char* name =
      How == sockpair::shm_publish::now ? "shm_channel" : "shm_channel_batched";

  explicit shm_channel_messages(std::size_t size) : size_(size), message_(size, std::byte{0x5a}) {
    auto [a, b] = make_pair<sockpair::stream>();
    const sockpair::shm_options options{.ring_size = std::size_t{1} << 20};
    auto writer = sockpair::shm_channel::create(std::move(a), options);
    auto reader = sockpair::shm_channel::accept(std::move(b), options);
    if (!writer || !reader) {
      fail("messages: shm_channel create/accept");
    }
    writer_ = std::move(writer).value();
    reader_ = std::move(reader).value();
  }

  void write_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      stamp(message_, sequence++);
      if (!writer_.send(message_, sockpair::deadline::never(), How)) {
        fail("messages: shm_channel::send");
      }
    }
    if (!writer_.flush()) {
      fail("messages: shm_channel::flush");
    }
  }

  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    if constexpr (How == sockpair::shm_publish::batched) {
      // What a reader of batched messages writes: every message already published in one
      // call, checked in place, the room given back once per call.
      for (std::size_t i = 0; i < count;) {
        auto got = reader_.receive_batch(
            [&](std::span<const std::byte> message) { check_message(message, size_, sequence++); },
            sockpair::deadline::never(), count - i);
        if (!got) {
          fail("messages: shm_channel::receive_batch");
        }
        if (!got.value()) {
          if (i == 0) {
            return false;
          }
          fail("messages: end of stream inside a batch");
        }
        i += *got.value();
      }
      return true;
    }
    for (std::size_t i = 0; i < count; ++i) {
      auto message = reader_.receive_view();
      if (!message) {
        fail("messages: shm_channel::receive_view");
      }
      if (!message.value()) {
        if (i == 0) {
          return false;
        }
        fail("messages: end of stream inside a batch");
      }
      check_message(*message.value(), size_, sequence++);
    }
    reader_.release();
    return true;
  }

  void end_writing() { writer_ = sockpair::shm_channel(); }

 private:
  std::size_t size_;
  std::vector<std::byte> message_;
  sockpair::shm_channel writer_;
  sockpair::shm_channel reader_;
};

// The ceiling: a single-producer, single-consumer ring and nothing else (see the top).
// Indices are 32-bit byte counts (modulo 2^32, far more than the ring), so that
// std::atomic::wait/notify use the futex on the word itself: a notify with no waiter is one
// load.
class bare_spsc_ring {
 public:
  static constexpr const char* name = "bare_spsc_ring";

  explicit bare_spsc_ring(std::size_t size) : size_(size), message_(size, std::byte{0x5a}) {}

  void write_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count; ++i) {
      stamp(message_, sequence++);
      const std::size_t at = reserve(record_size(size_));
      const auto length = static_cast<std::uint32_t>(size_);
      std::memcpy(&ring_[at], &length, sizeof length);
      std::memcpy(&ring_[at + header], message_.data(), size_);
      head_ += static_cast<std::uint32_t>(record_size(size_));
      if (head_ - published_ >= ring / 16) {
        publish();
      }
    }
    publish();
  }

  bool read_batch(std::size_t count, std::uint64_t& sequence) {
    for (std::size_t i = 0; i < count;) {
      while (tail_ == head_seen_) {
        release_tail();  // all read: the writer may have all of the room before we wait
        head_seen_ = shared_.head.load(std::memory_order_acquire);
        if (head_seen_ == tail_) {
          notify_tail();  // a writer asleep for room must not wait for a reader asleep for data
          head_seen_ = wait_for_change(shared_.head, tail_);
        }
      }
      const std::size_t at = tail_ & mask;
      std::uint32_t length = 0;
      std::memcpy(&length, &ring_[at], sizeof length);
      if (length == end_marker) {
        if (i == 0) {
          return false;
        }
        fail("messages: end of stream inside a batch");
      }
      if (length == wrap_marker) {
        tail_ += static_cast<std::uint32_t>(ring - at);
      } else {
        check_message(const_bytes(ring_).subspan(at + header, length), size_, sequence++);
        tail_ += static_cast<std::uint32_t>(record_size(length));
        ++i;
      }
      if (tail_ - released_ >= ring / 16) {
        release_tail();
        notify_tail();
      }
    }
    return true;
  }

  // The end: a record of its own, as published as any other.
  void end_writing() {
    const std::size_t at = reserve(header);
    std::memcpy(&ring_[at], &end_marker, sizeof end_marker);
    head_ += header;
    publish();
  }

 private:
  static constexpr std::size_t ring = std::size_t{1} << 20;  // as shm_channel_messages
  static constexpr std::size_t mask = ring - 1;
  static constexpr std::size_t header = 8;
  static constexpr std::uint32_t wrap_marker = 0xFFFF'FFFFU;
  static constexpr std::uint32_t end_marker = 0xFFFF'FFFEU;
  static constexpr std::size_t record_size(std::size_t payload) {
    return (header + payload + 7) & ~std::size_t{7};
  }

  // Waits for room for a record of `need` bytes before the ring's end (writing a wrap marker
  // if it must) and returns its offset.
  std::size_t reserve(std::size_t need) {
    std::size_t at = head_ & mask;
    const std::size_t total = need <= ring - at ? need : ring - at + need;
    while (head_ + total - tail_seen_ > ring) {
      publish();
      tail_seen_ = shared_.tail.load(std::memory_order_acquire);
      if (head_ + total - tail_seen_ > ring) {
        tail_seen_ = wait_for_change(shared_.tail, tail_seen_);
      }
    }
    if (need > ring - at) {
      std::memcpy(&ring_[at], &wrap_marker, sizeof wrap_marker);
      head_ += static_cast<std::uint32_t>(ring - at);
      at = 0;
    }
    return at;
  }

  // Wakes a writer asleep for room, once per sixteenth of the ring (the futex compares the
  // word, so a writer that sleeps after the store above does not sleep past the next notify).
  void notify_tail() {
    if (notified_ != tail_) {
      notified_ = tail_;
      shared_.tail.notify_one();
    }
  }

  void release_tail() {
    if (released_ != tail_) {
      released_ = tail_;
      shared_.tail.store(tail_, std::memory_order_release);
    }
  }

  void publish() {
    if (published_ != head_) {
      published_ = head_;
      shared_.head.store(head_, std::memory_order_release);
      shared_.head.notify_one();
    }
  }

  // Spins up to 20 µs for `word` to differ from `old`, then sleeps in std::atomic::wait.
  static std::uint32_t wait_for_change(std::atomic<std::uint32_t>& word, std::uint32_t old) {
    const auto spin_end = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
    for (unsigned n = 1;; ++n) {
      if (const std::uint32_t now = word.load(std::memory_order_acquire); now != old) {
        return now;
      }
      if (n % 64 == 0 && std::chrono::steady_clock::now() >= spin_end) {
        word.wait(old, std::memory_order_acquire);
        return word.load(std::memory_order_acquire);
      }
    }
  }

  struct shared_words {
    alignas(64) std::atomic<std::uint32_t> head{0};
    alignas(64) std::atomic<std::uint32_t> tail{0};
  };

  std::size_t size_;
  std::vector<std::byte> message_;
  std::vector<std::byte> ring_ = std::vector<std::byte>(ring);
  shared_words shared_;
  alignas(64) std::uint32_t head_ = 0;  // the writer's
  std::uint32_t published_ = 0;
  std::uint32_t tail_seen_ = 0;
  alignas(64) std::uint32_t tail_ = 0;  // the reader's
  std::uint32_t head_seen_ = 0;
  std::uint32_t notified_ = 0;
  std::uint32_t released_ = 0;
};

// ---- The harness ------------------------------------------------------------------------------

template <class Contender, bool TwoCpus = false>
void messages(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::size_t per_batch = std::max<std::size_t>(16, batch_bytes / size);
  cpu_set_t allowed{};
  if (TwoCpus && !may_use_cpus_0_and_1(allowed)) {
    state.SkipWithError("messages_2cpu needs CPUs 0 and 1");
    return;
  }
  Contender channel(size);

  std::atomic<std::uint64_t> batches_read{0};
  std::atomic<std::int64_t> last_message_at{0};
  std::thread reader_thread([&] {
    if (TwoCpus && !bind_to_cpu(1)) {
      fail("messages_2cpu: sched_setaffinity(1)");
    }
    std::uint64_t sequence = 0;
    for (std::uint64_t batch = 1;; ++batch) {
      if (!channel.read_batch(per_batch, sequence)) {
        return;  // the writer is done
      }
      last_message_at.store(now_ns(), std::memory_order_relaxed);
      batches_read.store(batch, std::memory_order_release);
      batches_read.notify_one();
    }
  });

  if (TwoCpus && !bind_to_cpu(0)) {
    fail("messages_2cpu: sched_setaffinity(0)");
  }
  std::uint64_t sequence = 0;
  std::uint64_t batch = 0;
  for (auto _ : state) {
    const std::int64_t started = now_ns();
    channel.write_batch(per_batch, sequence);
    ++batch;
    for (auto seen = batches_read.load(std::memory_order_acquire); seen != batch;
         seen = batches_read.load(std::memory_order_acquire)) {
      batches_read.wait(seen, std::memory_order_acquire);
    }
    state.SetIterationTime(
        static_cast<double>(last_message_at.load(std::memory_order_relaxed) - started) * 1e-9);
  }
  channel.end_writing();
  reader_thread.join();
  if (TwoCpus) {
    ::sched_setaffinity(0, sizeof allowed, &allowed);  // the benchmark thread runs on
  }
  const auto count =
      static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(per_batch);
  state.SetItemsProcessed(count);
  state.SetBytesProcessed(count * static_cast<std::int64_t>(size));
}

template <class Contender>
void register_messages() {
  benchmark::RegisterBenchmark(name("messages", Contender::name).c_str(), messages<Contender>)
      ->Arg(64)
      ->Arg(4096)
      ->Arg(64 * 1024)
      ->UseManualTime()
      ->MeasureProcessCPUTime()  // the CPU column: both threads' CPU time per batch
      ->Unit(benchmark::kMicrosecond);
}

template <class Contender>
void register_messages_2cpu() {
  benchmark::RegisterBenchmark(name("messages_2cpu", Contender::name).c_str(),
                               messages<Contender, true>)
      ->Arg(64)
      ->UseManualTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

// NOLINTNEXTLINE(cert-err58-cpp): registration runs before main, as Google Benchmark's own
[[maybe_unused]] const bool registered = [] {
  std::signal(SIGPIPE, SIG_IGN);  // a pipe's writer must see EPIPE, not die, if its reader fails
  register_messages<pipe_write_per_message>();
  register_messages<raw_seqpacket_send_per_message>();
  register_messages<sockpair_seqpacket_batched>();
  register_messages<sockpair_framed_stream>();
  register_messages<framing_over_pipe>();
  register_messages<shm_channel_messages<sockpair::shm_publish::now>>();
  register_messages<shm_channel_messages<sockpair::shm_publish::batched>>();
  register_messages<bare_spsc_ring>();
  register_messages_2cpu<pipe_write_per_message>();
  register_messages_2cpu<sockpair_framed_stream>();
  register_messages_2cpu<shm_channel_messages<sockpair::shm_publish::now>>();
  register_messages_2cpu<shm_channel_messages<sockpair::shm_publish::batched>>();
  register_messages_2cpu<bare_spsc_ring>();
  return true;
}();

}  // namespace
}  // namespace bench
