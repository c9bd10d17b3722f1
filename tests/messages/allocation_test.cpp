// Allocations made by the framing and batch calls, counted by replacing the global operator
// new/delete of this test binary: none per frame in steady state, none at all for batches,
// and a reader's buffer bounded by its limits whatever length a hostile peer announces.
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace {

// What the calling thread allocated while `counting` was set.
struct allocation_log {
  bool counting = false;
  std::size_t count = 0;
  std::size_t largest = 0;
  std::size_t bytes = 0;  // in all, freed or not
};
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the hooks' state
thread_local allocation_log log_of_this_thread;

void* allocate(std::size_t size) noexcept {
  if (log_of_this_thread.counting) {
    ++log_of_this_thread.count;
    log_of_this_thread.largest = std::max(log_of_this_thread.largest, size);
    log_of_this_thread.bytes += size;
  }
  // NOLINTNEXTLINE(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): the allocator
  return std::malloc(size == 0 ? 1 : size);
}

// Counts the allocations made on this thread during its lifetime.
class allocation_counter {
 public:
  allocation_counter() : log_(&log_of_this_thread) { *log_ = {.counting = true}; }
  ~allocation_counter() { log_->counting = false; }
  allocation_counter(const allocation_counter&) = delete;
  allocation_counter& operator=(const allocation_counter&) = delete;
  allocation_counter(allocation_counter&&) = delete;
  allocation_counter& operator=(allocation_counter&&) = delete;

  [[nodiscard]] std::size_t count() const { return log_->count; }
  [[nodiscard]] std::size_t largest() const { return log_->largest; }
  [[nodiscard]] std::size_t bytes() const { return log_->bytes; }

 private:
  allocation_log* log_;
};

}  // namespace

// Every replaceable form the library or the runtime might use, so that none bypasses the count.
// malloc and free: what a replacement operator new/delete is made of.
// NOLINTBEGIN(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
void* operator new(std::size_t size) {
  if (void* p = allocate(size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return allocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return allocate(size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }
// NOLINTEND(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)

namespace {

using sockpair::frame_reader;
using sockpair::frame_writer;
using sockpair::socket_pair;
using sockpair::stream;

TEST(AllocationCounter, CountsWhatItShould) {
  allocation_counter counter;
  auto* p = new (std::nothrow) std::byte[1234];  // NOLINT(cppcoreguidelines-owning-memory)
  delete[] p;                                    // NOLINT(cppcoreguidelines-owning-memory)
  std::vector<int> v(10);
  EXPECT_EQ(counter.count(), 2U);
  EXPECT_EQ(counter.largest(), 1234U);
  EXPECT_EQ(counter.bytes(), 1234U + 10 * sizeof(int));
}

// Writes `frames` frames of `size` bytes and reads them back on one thread; returns false if
// anything went wrong. The frames of one round fit in the socket's buffer.
template <class Writer, class Reader>
bool round_trip(Writer& writer, Reader& reader, std::span<const std::byte> frame, int frames) {
  for (int i = 0; i < frames; ++i) {
    if (!writer.write(frame)) {
      return false;
    }
  }
  if (!writer.flush()) {
    return false;
  }
  for (int i = 0; i < frames; ++i) {
    auto got = reader.read();
    if (!got || !got.value() || got.value()->size() != frame.size()) {
      return false;
    }
  }
  return true;
}

TEST(FramingAllocations, NoAllocationPerFrameInSteadyState) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  frame_writer writer(a);
  frame_reader reader(b);
  const std::vector<std::byte> small(64);
  const std::vector<std::byte> medium(4096);
  const std::vector<std::byte> large(65536);
  struct round {
    std::span<const std::byte> frame;
    int count;
  };
  const std::array<round, 3> rounds = {{{small, 1000}, {medium, 20}, {large, 2}}};
  for (const auto& r : rounds) {  // warm up: the buffers reach their working sizes
    ASSERT_TRUE(round_trip(writer, reader, r.frame, r.count));
  }
  allocation_counter counter;
  for (int repeat = 0; repeat < 50; ++repeat) {
    for (const auto& r : rounds) {
      ASSERT_TRUE(round_trip(writer, reader, r.frame, r.count));
    }
  }
  EXPECT_EQ(counter.count(), 0U);
}

TEST(FramingAllocations, ConstructionAllocatesNothing) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  allocation_counter counter;
  frame_writer writer(a);
  frame_reader reader(b);
  EXPECT_EQ(counter.count(), 0U);
}

// ---- A writer's buffer grows from what is pending, whatever its flush threshold -------------

// Writes one 16-byte frame through a writer with `threshold`, flushes it to a real pair and
// reads it back; returns the allocations the writer made (the frame must arrive intact).
std::pair<std::size_t, std::size_t> one_small_frame_with_threshold(std::size_t threshold) {
  auto pair = socket_pair<stream>::create();
  EXPECT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  const std::array<std::byte, 16> frame = {std::byte{1}, std::byte{2}, std::byte{3}};
  std::size_t count = 0;
  std::size_t bytes = 0;
  {
    frame_writer writer(a, {.flush_threshold = threshold});
    allocation_counter counter;
    auto written = writer.write(frame);
    count = counter.count();  // before any failure message allocates
    bytes = counter.bytes();
    EXPECT_TRUE(written) << written.error().message();
    EXPECT_EQ(writer.pending_bytes(), sockpair::frame_header_size + frame.size());
    EXPECT_TRUE(writer.flush());
  }
  EXPECT_TRUE(a.shutdown(sockpair::shutdown_how::write));  // no frame: the read sees the end
  frame_reader reader(b);
  auto got = reader.read();
  EXPECT_TRUE(got && got.value());
  if (got && got.value()) {
    EXPECT_TRUE(std::ranges::equal(*got.value(), frame));
  }
  return {count, bytes};
}

TEST(FramingAllocations, ALargeFlushThresholdAllocatesForWhatIsPendingOnly) {
  // 64 MiB of threshold is a promise to batch up to 64 MiB, not a reason to allocate it for
  // one 16-byte frame.
  const auto [count, bytes] = one_small_frame_with_threshold(std::size_t{64} << 20);
  EXPECT_EQ(count, 1U);
  EXPECT_LE(bytes, 4096U);
}

TEST(FramingAllocations, AThresholdPastWhatMemoryHoldsStillWrites) {
  // 2^40: allocating the threshold fails (ENOMEM), so every write would.
  const auto [count, bytes] = one_small_frame_with_threshold(std::size_t{1} << 40);
  EXPECT_EQ(count, 1U);
  EXPECT_LE(bytes, 4096U);
}

TEST(FramingAllocations, TheLargestThresholdNeitherWrapsNorAllocatesPerFrame) {
  // SIZE_MAX: only flush() sends. `threshold + header + max_frame_size` wrapped to a bound of
  // 1 MiB + 3, past which the buffer grew by one frame per write: quadratic.
  const std::size_t threshold = std::numeric_limits<std::size_t>::max();
  EXPECT_LE(one_small_frame_with_threshold(threshold).second, 4096U);

  // n frames, nothing sent: O(log n) allocations, at most a constant times the bytes pending.
  struct sink {  // takes everything, allocating nothing, and checks it is the frames written
    std::size_t received = 0;
    bool intact = true;
    [[nodiscard]] sockpair::result<std::size_t> send(std::span<const std::byte> data) noexcept {
      for (const std::byte b : data) {
        const std::size_t at = received % 20;  // a 4-byte prefix (16), then 16 bytes of `at`
        const std::byte want = at == 0 ? std::byte{16} : at < 4 ? std::byte{0} : std::byte(at);
        intact = intact && b == want;
        ++received;
      }
      return data.size();
    }
    [[nodiscard]] sockpair::result<std::size_t> receive(std::span<std::byte> /*unused*/) noexcept {
      return std::size_t{0};
    }
  };
  std::array<std::byte, 16> frame{};
  for (std::size_t i = 0; i < frame.size(); ++i) {
    frame[i] = std::byte(i + 4);
  }
  constexpr std::size_t frames = 100'000;
  sink out;
  frame_writer writer(out, {.flush_threshold = threshold});
  allocation_counter counter;
  // Doubling from 1 KiB to 2 MB: 12 allocations; 2 log2(n) leaves room for any growth factor
  // down to about 1.4, and none for growth by a constant (checked as it goes: quadratic
  // growth would take minutes to finish).
  const std::size_t most_allocations = 34;
  for (std::size_t i = 0; i < frames; ++i) {
    ASSERT_TRUE(writer.write(frame));
    ASSERT_LE(counter.count(), most_allocations) << "after " << i + 1 << " frames";
  }
  const std::size_t pending = frames * (sockpair::frame_header_size + frame.size());
  EXPECT_EQ(writer.pending_bytes(), pending);
  EXPECT_EQ(out.received, 0U) << "nothing is sent before flush()";
  EXPECT_LE(counter.bytes(), 4 * pending);
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(out.received, pending);
  EXPECT_TRUE(out.intact);
}

// Sends a bare length prefix announcing `length` bytes, then ends the stream; returns the
// reader's error and the largest allocation it made.
std::pair<std::error_code, std::size_t> read_after_prefix(std::uint32_t length,
                                                          sockpair::frame_reader_options options) {
  auto pair = socket_pair<stream>::create();
  EXPECT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  const std::array<std::byte, 4> prefix = {
      // little-endian
      std::byte(length & 0xFF), std::byte((length >> 8) & 0xFF), std::byte((length >> 16) & 0xFF),
      std::byte(length >> 24)};
  EXPECT_TRUE(a.send_all(prefix));
  EXPECT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  frame_reader reader(b, options);
  allocation_counter counter;
  auto got = reader.read();
  EXPECT_FALSE(got);
  return {got ? std::error_code() : got.error(), counter.largest()};
}

TEST(FramingAllocations, AHostileLengthNeverGrowsTheBufferPastTheLimits) {
  {
    auto [error, largest] = read_after_prefix(0xFFFF'FFFFU, {.max_frame_size = 1 << 20});
    EXPECT_EQ(error, sockpair::errc::frame_too_large);
    EXPECT_LE(largest, 64U * 1024);  // the first buffer only (read_size)
  }
  {
    auto [error, largest] = read_after_prefix(1001, {.max_frame_size = 1000, .read_size = 16});
    EXPECT_EQ(error, sockpair::errc::frame_too_large);
    EXPECT_LE(largest, 16U);
  }
  {
    // A length at the limit: the buffer may grow to one frame and its prefix, no further.
    auto [error, largest] =
        read_after_prefix(1 << 20, {.max_frame_size = 1 << 20, .read_size = 4096});
    EXPECT_EQ(error, sockpair::errc::unexpected_eof);
    EXPECT_GT(largest, 4096U);
    EXPECT_LE(largest, (1U << 20) + sockpair::frame_header_size);
  }
}

TEST(BatchAllocations, BatchesAllocateNothing) {
  auto pair = socket_pair<sockpair::seqpacket>::create();
  ASSERT_TRUE(pair);
  auto [a, b] = std::move(pair).value();
  std::array<std::array<std::byte, 64>, 100> storage{};
  std::array<std::span<const std::byte>, 100> out;
  std::array<std::span<std::byte>, 100> in;
  std::array<sockpair::message_info, 100> results;
  for (std::size_t i = 0; i < storage.size(); ++i) {
    out[i] = storage[i];
    in[i] = storage[i];
  }
  allocation_counter counter;
  for (int repeat = 0; repeat < 20; ++repeat) {
    auto sent = sockpair::send_batch(a, out);
    ASSERT_TRUE(sent);
    std::size_t done = 0;
    while (done < sent.value()) {
      auto got =
          sockpair::receive_batch(b, std::span(in).subspan(done), std::span(results).subspan(done));
      ASSERT_TRUE(got);
      done += got.value();
    }
  }
  EXPECT_EQ(counter.count(), 0U);
}

}  // namespace
