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
};
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the hooks' state
thread_local allocation_log log_of_this_thread;

void* allocate(std::size_t size) noexcept {
  if (log_of_this_thread.counting) {
    ++log_of_this_thread.count;
    log_of_this_thread.largest = std::max(log_of_this_thread.largest, size);
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
