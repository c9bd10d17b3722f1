// shm_channel against a hostile peer: a creator that offers a bad region, and a peer that
// writes the shared memory behind the library's back (indices, lengths, markers), including a
// thread that scribbles at random while the channel runs. Every case must end in
// errc::peer_protocol_violation (or a timeout), never in a crash, an out-of-bounds access
// (asan) or a hang.
//
// ThreadSanitizer: the scribbler stores with relaxed atomics, and the library reads every index
// and length atomically and, in a TSan build, copies payload with relaxed atomic byte accesses
// (detail::shm_copy), so the racy scribbling is not a reported race; payload is only ever
// read here through the copying `receive`, never through a view, for the same reason.
#include <socketpair/ancillary.hpp>
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/shm/shm_support.hpp"

namespace sockpair::testing {
namespace {

using namespace std::chrono_literals;
namespace d = sockpair::detail;

constexpr auto watchdog = 60s;

// ---- A hostile creator -----------------------------------------------------------------------

struct offer {
  std::size_t ring = 4096;
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  std::size_t file_size = 0;  // 0: the right size for `ring`
  std::uint64_t magic = d::shm_magic;
  std::uint64_t version = d::shm_version;
  std::uint64_t header_ring = 0;  // 0: `ring`
  bool regular_file = false;      // a temporary file instead of a memfd
  bool pipe_for_bell = false;     // a pipe instead of a stream socket
  bool dgram_for_bell = false;    // a dgram socket instead of a stream socket
  std::size_t fds = 3;
  std::string hello = std::string("sockpair-shm v1") + '\0';
};

// Offers a region made to `o` on `sock`, as a (possibly hostile) creator would.
void send_offer(socket<seqpacket>& sock, const offer& o) {
  unique_fd file;
  if (o.regular_file) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    file.reset(::dup(::fileno(f)));
    std::fclose(f);
  } else {
    file.reset(::memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  }
  ASSERT_TRUE(file);
  const std::size_t size = o.file_size != 0 ? o.file_size : d::shm_region_size(o.ring);
  ASSERT_EQ(::ftruncate(file.get(), static_cast<off_t>(size)), 0);
  void* at = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file.get(), 0);
  ASSERT_NE(at, MAP_FAILED);
  auto* base = static_cast<std::byte*>(at);
  d::shm_store(d::shm_word(base, d::shm_off_magic), o.magic, std::memory_order_relaxed);
  d::shm_store(d::shm_word(base, d::shm_off_version), o.version, std::memory_order_relaxed);
  d::shm_store(d::shm_word(base, d::shm_off_ring_size), o.header_ring != 0 ? o.header_ring : o.ring,
               std::memory_order_relaxed);
  ::munmap(at, 4096);
  if (o.seals != 0 && !o.regular_file) {
    ASSERT_EQ(::fcntl(file.get(), F_ADD_SEALS, o.seals), 0);
  }
  std::array<int, 2> bell{-1, -1};
  if (o.pipe_for_bell) {
    ASSERT_EQ(::pipe2(bell.data(), O_CLOEXEC), 0);
  } else {
    ASSERT_EQ(::socketpair(AF_UNIX, (o.dgram_for_bell ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0,
                           bell.data()),
              0);
  }
  const unique_fd bell0(bell[0]);
  const unique_fd bell1(bell[1]);
  std::vector<int> fds = {file.get(), bell1.get(), bell1.get(), bell1.get()};
  fds.resize(o.fds);  // (a vector: g++'s -Warray-bounds misreads a span's `first` of an array)
  ASSERT_TRUE(send_with_fds(sock, o.hello, std::span<const int>(fds)));
}

std::error_code accept_offer(const offer& o) {
  auto pair = socket_pair<seqpacket>::create().value();
  send_offer(pair.first, o);
  auto r = shm_channel::accept(std::move(pair.second), {.max_ring_size = 1 << 20}, watchdog);
  return r ? std::error_code() : r.error();
}

TEST(ShmHostileCreator, AnHonestOfferIsAccepted) { EXPECT_EQ(accept_offer({}), std::error_code()); }

TEST(ShmHostileCreator, EveryBadOfferIsAProtocolViolation) {
  const std::error_code violation = errc::peer_protocol_violation;
  EXPECT_EQ(accept_offer({.seals = 0}), violation) << "unsealed";
  EXPECT_EQ(accept_offer({.seals = F_SEAL_SHRINK | F_SEAL_SEAL}), violation) << "may grow";
  EXPECT_EQ(accept_offer({.seals = F_SEAL_GROW | F_SEAL_SEAL}), violation) << "may shrink";
  EXPECT_EQ(accept_offer({.seals = F_SEAL_SHRINK | F_SEAL_GROW}), violation) << "may be resealed";
  EXPECT_EQ(accept_offer({.regular_file = true}), violation) << "no memfd";
  EXPECT_EQ(accept_offer({.file_size = 4096}), violation) << "no rings";
  EXPECT_EQ(accept_offer({.file_size = d::shm_region_size(4096) + 8}), violation) << "odd size";
  EXPECT_EQ(accept_offer({.file_size = 4096 + 2 * 6000}), violation) << "no power of two";
  EXPECT_EQ(accept_offer({.ring = 2 << 20}), violation) << "past max_ring_size";
  EXPECT_EQ(accept_offer({.magic = 42}), violation) << "magic";
  EXPECT_EQ(accept_offer({.version = 2}), violation) << "version";
  EXPECT_EQ(accept_offer({.header_ring = 8192}), violation) << "header disagrees with size";
  EXPECT_EQ(accept_offer({.header_ring = std::uint64_t{1} << 63}), violation) << "overflow";
  EXPECT_EQ(accept_offer({.pipe_for_bell = true}), violation) << "a pipe as a bell";
  EXPECT_EQ(accept_offer({.dgram_for_bell = true}), violation) << "a dgram bell";
  EXPECT_EQ(accept_offer({.fds = 2}), violation) << "two descriptors";
  EXPECT_EQ(accept_offer({.fds = 4}), errc::control_truncated) << "four descriptors";
  EXPECT_EQ(accept_offer({.hello = "sockpair-shm v2"}), violation) << "hello";
  EXPECT_EQ(accept_offer({.hello = "short"}), violation) << "short hello";
}

// ---- A hostile writer or reader of the rings -------------------------------------------------

// The words of ring `ring`'s control block, in an end's view of the region.
std::uint64_t* control(shm_channel& c, int ring, std::size_t field) {
  return d::shm_word(c.shared_region().data(), d::shm_control_offset(ring) + field);
}

std::byte* ring_data(shm_channel& c, int ring) {
  return c.shared_region().data() + d::shm_header_size +
         static_cast<std::size_t>(ring) * c.ring_size();
}

void poke(std::uint64_t* word, std::uint64_t value) {
  d::shm_store(word, value, std::memory_order_release);
}

// The creator `a` writes ring 0, which the acceptor `b` reads.
class ShmHostileWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(a, b) = make_channels({.ring_size = 4096, .spin = 0ns});
    ASSERT_TRUE(a && b);
  }
  // b's next receive fails with the violation, and so does every one after it.
  void expect_violation() {
    std::array<std::byte, 4096> buffer{};
    for (int i = 0; i < 3; ++i) {
      auto r = b.receive(buffer, watchdog);
      ASSERT_FALSE(r) << "call " << i << " returned " << (r.value() ? *r.value() : 999999);
      EXPECT_EQ(r.error(), errc::peer_protocol_violation) << r.error().message();
    }
    EXPECT_EQ(b.receive_view(watchdog).error(), errc::peer_protocol_violation);
    EXPECT_EQ(b.read_bytes(buffer, watchdog).error(), errc::peer_protocol_violation);
  }
  shm_channel a;
  shm_channel b;
};

TEST_F(ShmHostileWriter, AHeadMoreThanARingAheadIsRefused) {
  poke(control(a, 0, d::shm_off_head), 4096 + 8);
  expect_violation();
}

TEST_F(ShmHostileWriter, AHeadBehindTheReadersTailIsRefused) {
  ASSERT_TRUE(a.send(std::vector<std::byte>(100)));
  std::array<std::byte, 100> buffer{};
  ASSERT_TRUE(b.receive(buffer, watchdog));
  poke(control(a, 0, d::shm_off_head), 8);  // the reader's tail is 112 now
  expect_violation();
}

TEST_F(ShmHostileWriter, ALengthPastTheLargestMessageIsRefused) {
  d::shm_store_length(ring_data(a, 0), static_cast<std::uint32_t>(a.max_message_size() + 1));
  poke(control(a, 0, d::shm_off_head), 4096);
  expect_violation();
}

TEST_F(ShmHostileWriter, ARecordLongerThanWhatWasCommittedIsRefused) {
  d::shm_store_length(ring_data(a, 0), 100);
  poke(control(a, 0, d::shm_off_head), 16);
  expect_violation();
}

TEST_F(ShmHostileWriter, AWrapMarkerWithoutTheRestOfTheRingCommittedIsRefused) {
  d::shm_store_length(ring_data(a, 0), d::shm_wrap_marker);
  poke(control(a, 0, d::shm_off_head), 8);
  expect_violation();
}

TEST_F(ShmHostileWriter, ARecordCrossingTheRingsEndIsRefused) {
  // Two honest messages bring the reader to 16 bytes before the ring's end.
  std::array<std::byte, 4096> buffer{};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(a.send(std::vector<std::byte>(2032)));
    ASSERT_TRUE(b.receive(buffer, watchdog));
  }
  d::shm_store_length(ring_data(a, 0) + 4080, 100);
  poke(control(a, 0, d::shm_off_head), 4080 + 112);
  expect_violation();
}

TEST_F(ShmHostileWriter, ScribbledPayloadIsOnlyData) {
  ASSERT_TRUE(a.send(as_bytes(std::string("honest"))));
  std::memset(ring_data(a, 0) + 8, 'X', 6);  // the peer rewrites its own payload
  std::array<std::byte, 16> buffer{};
  auto got = b.receive(buffer, watchdog);
  ASSERT_TRUE(got && got.value());
  EXPECT_EQ(as_string(std::span(buffer).first(*got.value())), "XXXXXX");
}

TEST_F(ShmHostileWriter, ATailAheadOfTheWritersHeadIsRefused) {
  // b (the reader of ring 0) claims to have consumed what a never wrote; a finds out when it
  // next needs room.
  poke(control(a, 0, d::shm_off_tail), std::uint64_t{3} * 4096);
  const std::vector<std::byte> message(1000);
  result<void> r = success();
  for (int i = 0; i < 10 && r; ++i) {
    r = a.send(message, watchdog);
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::peer_protocol_violation);
  EXPECT_EQ(a.reserve(1).error(), errc::peer_protocol_violation) << "sticky";
}

TEST_F(ShmHostileWriter, AScribbledLengthInsideABatchEndsItAfterTheMessagesBeforeIt) {
  for (std::uint64_t n = 0; n < 4; ++n) {
    ASSERT_TRUE(a.send(pattern(n, 64), watchdog, shm_publish::batched));
  }
  ASSERT_TRUE(a.flush());
  // The third record (after two of 8 + 64 bytes) now claims more than was committed.
  d::shm_store_length(ring_data(a, 0) + std::size_t{2} * 72, 1000);
  std::uint64_t n = 0;
  auto check = [&](std::span<const std::byte> m) {
    std::vector<std::byte> copy(m.size());  // copied before it is checked
    d::shm_copy(copy.data(), m.data(), m.size());
    EXPECT_EQ(copy, pattern(n, 64)) << n;
    ++n;
  };
  auto got = b.receive_batch(check, watchdog);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got.value());
  EXPECT_EQ(*got.value(), 2U);
  EXPECT_EQ(n, 2U);
  // Both were consumed: the room is a's again, and neither is visited twice.
  EXPECT_EQ(d::shm_load(control(a, 0, d::shm_off_tail), std::memory_order_acquire), 2U * 72);
  for (int i = 0; i < 2; ++i) {
    auto again = b.receive_batch(check, watchdog);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), errc::peer_protocol_violation) << again.error().message();
    auto tried = b.try_receive_batch(check);
    ASSERT_FALSE(tried);
    EXPECT_EQ(tried.error(), errc::peer_protocol_violation);
  }
  EXPECT_EQ(n, 2U);
  expect_violation();
}

TEST_F(ShmHostileWriter, ABadFirstRecordFailsTheBatchWithNothingVisited) {
  d::shm_store_length(ring_data(a, 0), static_cast<std::uint32_t>(a.max_message_size() + 1));
  poke(control(a, 0, d::shm_off_head), 4096);
  std::size_t visits = 0;
  auto got = b.try_receive_batch([&](std::span<const std::byte>) { ++visits; });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::peer_protocol_violation);
  EXPECT_EQ(visits, 0U);
  expect_violation();
}

TEST_F(ShmHostileWriter, AHeadMoreThanARingAheadFailsABatch) {
  poke(control(a, 0, d::shm_off_head), 4096 + 8);
  auto got = b.receive_batch([](std::span<const std::byte>) {}, watchdog);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::peer_protocol_violation);
}

TEST_F(ShmHostileWriter, APeersCpuWordOnlyTurnsSpinningOffOrLeavesItWithinItsBound) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (!CPU_ISSET(0, &allowed)) {
    GTEST_SKIP() << "CPU 0 is not ours";
  }
  cpu_set_t zero;
  CPU_ZERO(&zero);
  CPU_SET(0, &zero);
  ASSERT_EQ(::sched_setaffinity(0, sizeof zero, &zero), 0);
  std::uint64_t* const peer_cpu = d::shm_word(a.shared_region().data(), d::shm_cpu_offset(0));
  std::array<std::byte, 8> buffer{};
  // "Same CPU as you": b sleeps at once, however long it may spin; the wait still ends.
  b.set_spin(10s);
  poke(peer_cpu, 1);  // CPU 0, plus 1
  EXPECT_EQ(b.receive(buffer, 20ms).error(), std::errc::timed_out);
  EXPECT_EQ(b.wait_counts().spun, 0U);
  EXPECT_EQ(b.wait_counts().slept_without_spinning, 1U);
  // Any other value: b spins as it would without the word, within its bound and deadline.
  b.set_spin(1ms);
  for (const std::uint64_t value : {std::uint64_t{0}, std::uint64_t{2}, ~std::uint64_t{0}}) {
    poke(peer_cpu, value);
    EXPECT_EQ(b.receive(buffer, 20ms).error(), std::errc::timed_out);
  }
  EXPECT_EQ(b.wait_counts().spun, 3U);
  EXPECT_EQ(b.wait_counts().slept_without_spinning, 1U);
  // Nothing else changed: a message still arrives.
  ASSERT_TRUE(a.send(as_bytes(std::string("fine"))));
  auto got = b.receive(buffer, watchdog);
  ASSERT_TRUE(got && got.value());
  EXPECT_EQ(as_string(std::span(buffer).first(*got.value())), "fine");
  ASSERT_EQ(::sched_setaffinity(0, sizeof allowed, &allowed), 0);
}

// ---- A scribbler thread ----------------------------------------------------------------------

// Rounds of: a fresh channel, an honest writer thread, a scribbler thread storing random words
// (half of them in the header page, where the indices live), and the reader here. Every receive
// must succeed with a sane size, time out, or report the violation; every round ends.
TEST(ShmScribbler, RandomStoresWhileTheChannelRunsEndInAViolationNeverACrash) {
  std::size_t violations = 0;
  std::size_t messages = 0;
  for (int round = 0; round < 10; ++round) {
    auto [a, b] = make_channels({.ring_size = 4096, .spin = 0ns});
    ASSERT_TRUE(a && b);
    std::atomic<bool> stop{false};
    std::thread writer([&, &a = a] {
      for (std::uint64_t n = 0; !stop.load(); ++n) {
        auto r = a.send(message_bytes(n, a.max_message_size()), 2ms);
        if (!r && r.error() != std::errc::timed_out) {
          return;  // a violation (a scribbled tail) or a broken pipe
        }
      }
    });
    std::thread scribbler([&, &b = b, round] {
      std::mt19937_64 random(static_cast<std::uint64_t>(round));
      const std::span<std::byte> region = b.shared_region();
      const std::size_t words = region.size() / 8;
      for (int i = 0; !stop.load(); ++i) {
        const std::size_t word = random() % 2 == 0 ? random() % 512 : random() % words;
        std::uint64_t value = random();
        switch (random() % 4) {
          case 0:
            value %= 8192;  // a plausible index or length
            break;
          case 1:
            value = d::shm_wrap_marker;
            break;
          default:
            break;
        }
        d::shm_store(reinterpret_cast<std::uint64_t*>(region.data()) + word, value,
                     std::memory_order_relaxed);
        if (i % 16 == 0) {
          std::this_thread::yield();
        }
      }
    });
    std::vector<std::byte> buffer(b.max_message_size());
    for (int i = 0; i < 1000; ++i) {
      // Odd rounds read in batches (each message copied out, as the view is the scribbler's).
      auto got = round % 2 == 0 ? b.receive(buffer, 1ms)
                                : b.receive_batch(
                                      [&, &b = b](std::span<const std::byte> m) {
                                        ASSERT_LE(m.size(), b.max_message_size());
                                        d::shm_copy(buffer.data(), m.data(), m.size());
                                        ++messages;
                                      },
                                      1ms);
      if (got) {
        ASSERT_TRUE(got.value()) << "the writer never closes";
        ASSERT_LE(*got.value(), b.max_message_size());
        messages += round % 2 == 0 ? 1 : 0;
        continue;
      }
      if (got.error() == errc::peer_protocol_violation) {
        ++violations;
        break;
      }
      ASSERT_EQ(got.error(), std::errc::timed_out) << got.error().message();
    }
    stop = true;
    writer.join();
    scribbler.join();
  }
  std::printf("scribbler: %zu rounds ended in a violation, %zu messages got through\n", violations,
              messages);
  EXPECT_GT(violations, 0U) << "random stores into the indices must be caught";
}

}  // namespace
}  // namespace sockpair::testing
