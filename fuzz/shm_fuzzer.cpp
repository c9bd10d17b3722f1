// libFuzzer target for shm_channel against a hostile peer, over a REAL socket pair and a REAL
// memfd. The fuzzer is the peer: it makes (or receives) the region and writes it as it likes.
//
//   byte 0   bit 0: 0 the library accepts an offer the fuzzer makes; 1 the library creates and
//            the fuzzer accepts (receives the memfd and the wake-up sockets with SCM_RIGHTS)
//   offer    (bit 0 = 0 only) bytes 1-2: the offer's flaws, one bit each (see `make_offer`);
//            most inputs leave them clear, so most offers are honest
//   steps    op % 8, then operands:
//     0  poke: u16 word index into the region (modulo its size), u8 kind, u64 value
//     1  peer commits a well-formed message of u16 % (max + 1) bytes, stamped, to the ring the
//        library reads (skipped when the model says it has no room)
//     2  library receive (copying) into a buffer of u16 bytes
//     3  library receive_view, then release; with op bit 3 set, receive_batch (bit 4 set) or
//        try_receive_batch of at most op >> 5 messages (0: no limit) instead
//     4  library read_bytes into a buffer of u8 + 1 bytes
//     5  library send of u16 % (max + 1) stamped bytes (reserve, commit); every other one
//        batched (shm_publish::batched: published by the next one, or before a wait)
//     6  peer consumes what the library sent: checks each record (while clean) and publishes
//        its tail
//     7  peer dies: closes its wake-up sockets (and the pair); the library must report the end
//        once it has read every message committed before
//
// No call may wait: every deadline has passed. After every call the invariants are checked and
// a violation aborts (libFuzzer reports it as a crash):
//   - a result is a success with sizes in range, or an error the call documents for the case;
//   - while the peer has poked nothing ("clean"), the library behaves exactly as the model of
//     an honest peer says: the same messages, in order, whole; no violation reported;
//   - after a poke, anything but a crash, an out-of-range size or an undocumented error goes;
//   - the library never touches memory outside the mapping (AddressSanitizer), and no
//     descriptor outlives an input.
#include <socketpair/ancillary.hpp>
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "fuzz/fuzz_support.hpp"

namespace {

namespace d = sockpair::detail;

struct totals {
  unsigned long long inputs = 0;
  unsigned long long channels = 0;
  unsigned long long messages = 0;
  unsigned long long violations = 0;
};
totals counted;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): the tally

using sockpair::fuzzing::count_open_fds;
using sockpair::fuzzing::require;
using sockpair::fuzzing::script;

std::byte stamp_byte(std::uint64_t n, std::size_t i) {
  return static_cast<std::byte>((n * 131 + i * 7 + 1) & 0xFF);
}

bool is_stamped(std::span<const std::byte> got, std::uint64_t n, std::size_t size) {
  if (got.size() != size) {
    return false;
  }
  for (std::size_t i = 0; i < size; ++i) {
    if (got[i] != stamp_byte(n, i)) {
      return false;
    }
  }
  return true;
}

bool documented(const std::error_code& e) {
  return e == sockpair::errc::peer_protocol_violation || e == std::errc::timed_out ||
         e == std::errc::broken_pipe || e == sockpair::errc::message_truncated;
}

class session {
 public:
  session() = default;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  session(session&&) = delete;
  session& operator=(session&&) = delete;
  ~session() {
    channel_ = sockpair::shm_channel();
    if (region_ != nullptr) {
      ::munmap(region_, region_size_);
    }
  }

  void run(script& s) {
    const bool library_creates = (s.u8() & 1) != 0;
    if (!(library_creates ? set_up_as_acceptor() : set_up_as_creator(s))) {
      return;
    }
    ++counted.channels;
    for (int steps = 0; !s.done() && steps < 96; ++steps) {
      step(s);
    }
  }

 private:
  // The fuzzer creates (a possibly flawed) region; the library accepts it.
  bool set_up_as_creator(script& s) {
    const std::uint16_t flaws = s.u16();
    const std::size_t ring = std::size_t{4096} << ((flaws >> 12) & 3);
    auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
    require(static_cast<bool>(pair), "socketpair");
    sockpair::unique_fd file(::memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    require(static_cast<bool>(file), "memfd_create");
    std::size_t size = d::shm_region_size(ring);
    if ((flaws & 1) != 0) {
      size += 4096;  // no valid region size
    }
    if ((flaws & 2) != 0) {
      size = 4096;
    }
    require(::ftruncate(file.get(), static_cast<off_t>(size)) == 0, "ftruncate");
    int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    if ((flaws & 4) != 0) {
      seals &= ~F_SEAL_SHRINK;
    }
    if ((flaws & 8) != 0) {
      seals = 0;
    }
    void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, file.get(), 0);
    require(at != MAP_FAILED, "mmap");
    region_ = static_cast<std::byte*>(at);
    region_size_ = size;
    store(d::shm_off_magic, (flaws & 16) != 0 ? 1 : d::shm_magic);
    store(d::shm_off_version, (flaws & 32) != 0 ? 7 : d::shm_version);
    store(d::shm_off_ring_size, (flaws & 64) != 0 ? ring * 2 : ring);
    if (seals != 0) {
      require(::fcntl(file.get(), F_ADD_SEALS, seals) == 0, "seal");
    }
    std::array<int, 2> data{};
    std::array<int, 2> space{};
    const int bell_type = (flaws & 128) != 0 ? SOCK_DGRAM : SOCK_STREAM;
    require(::socketpair(AF_UNIX, bell_type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, data.data()) == 0,
            "socketpair");
    require(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, space.data()) == 0,
            "socketpair");
    data_bell_.reset(data[0]);
    space_bell_.reset(space[0]);
    const sockpair::unique_fd their_data(data[1]);
    const sockpair::unique_fd their_space(space[1]);
    std::array<std::byte, 16> hello{};
    std::memcpy(hello.data(), "sockpair-shm v1", 16);
    if ((flaws & 256) != 0) {
      hello[3] = std::byte{'X'};
    }
    const std::array<int, 3> fds = {file.get(), their_data.get(), their_space.get()};
    const std::size_t count = (flaws & 512) != 0 ? 2 : 3;
    require(static_cast<bool>(sockpair::send_with_fds(pair.value().first, hello,
                                                      std::span<const int>(fds).first(count))),
            "send offer");
    peer_socket_ = std::move(pair.value().first);
    auto accepted = sockpair::shm_channel::accept(std::move(pair.value().second),
                                                  {.max_ring_size = 16384, .spin = {}},
                                                  sockpair::deadline::passed());
    const bool flawed = (flaws & 0x3FF) != 0 || ring > 16384;
    if (!accepted) {
      require(flawed, "an honest offer was refused", accepted.error().value());
      require(accepted.error() == sockpair::errc::peer_protocol_violation,
              "a flawed offer is a protocol violation", accepted.error().value());
      return false;
    }
    require(!flawed, "a flawed offer was accepted", flaws);
    channel_ = std::move(accepted).value();
    inbound_ = 0;  // the creator (this fuzzer) writes ring 0
    ring_ = ring;
    return true;
  }

  // The library creates; the fuzzer receives the offer as an acceptor would.
  bool set_up_as_acceptor() {
    auto pair = sockpair::socket_pair<sockpair::stream>::create();
    require(static_cast<bool>(pair), "socketpair");
    auto created = sockpair::shm_channel::create(std::move(pair.value().first),
                                                 {.ring_size = 4096, .spin = {}});
    require(static_cast<bool>(created), "create");
    channel_ = std::move(created).value();
    std::array<std::byte, 16> hello{};
    auto got = sockpair::receive_with_fds<3>(pair.value().second, hello);
    require(got && got.value().fds.size() == 3, "receive the offer");
    region_size_ = d::shm_region_size(4096);
    void* at = ::mmap(nullptr, region_size_, PROT_READ | PROT_WRITE, MAP_SHARED,
                      got.value().fds[0].get(), 0);
    require(at != MAP_FAILED, "mmap");
    region_ = static_cast<std::byte*>(at);
    data_bell_ = std::move(got.value().fds[1]);
    space_bell_ = std::move(got.value().fds[2]);
    peer_stream_ = std::move(pair.value().second);
    inbound_ = 1;  // the acceptor (this fuzzer) writes ring 1
    ring_ = 4096;
    return true;
  }

  void store(std::size_t offset, std::uint64_t value) {
    d::shm_store(d::shm_word(region_, offset), value, std::memory_order_release);
  }
  std::uint64_t* control(int ring, std::size_t field) {
    return d::shm_word(region_, d::shm_control_offset(ring) + field);
  }
  std::byte* ring_data(int ring) {
    return region_ + d::shm_header_size + static_cast<std::size_t>(ring) * ring_;
  }

  std::byte* library_ring(int ring) {
    return channel_.shared_region().data() + d::shm_header_size +
           static_cast<std::size_t>(ring) * ring_;
  }

  [[nodiscard]] std::size_t max() const { return d::shm_max_payload(ring_); }

  // ---- The peer ------------------------------------------------------------------------------

  void peer_commit(std::size_t size) {
    if (dead_) {
      return;
    }
    const std::size_t need = d::shm_record_size(size);
    std::size_t at = peer_head_ & (ring_ - 1);
    const std::size_t to_end = ring_ - at;
    const std::size_t total = need <= to_end ? need : to_end + need;
    if (peer_head_ + total - peer_seen_tail() > ring_) {
      return;  // no room (by the library's published tail)
    }
    std::byte* const data = ring_data(inbound_);
    if (need > to_end) {
      d::shm_store_length(data + at, d::shm_wrap_marker);
      peer_head_ += to_end;
      at = 0;
    }
    for (std::size_t i = 0; i < size; ++i) {
      data[at + 8 + i] = stamp_byte(sent_, i);
    }
    d::shm_store_length(data + at, static_cast<std::uint32_t>(size));
    peer_head_ += need;
    d::shm_store(control(inbound_, d::shm_off_head), peer_head_, std::memory_order_release);
    expected_.emplace_back(sent_++, size);
  }

  std::uint64_t peer_seen_tail() {
    return d::shm_load(control(inbound_, d::shm_off_tail), std::memory_order_acquire);
  }

  // Reads what the library sent on its outbound ring, as an honest consumer would.
  void peer_consume() {
    const int out = 1 - inbound_;
    const std::uint64_t head =
        d::shm_load(control(out, d::shm_off_head), std::memory_order_acquire);
    std::byte* const data = ring_data(out);
    while (peer_tail_ != head) {
      if (head - peer_tail_ > ring_) {
        require(!clean_, "the library published a head more than a ring ahead");
        return;
      }
      const std::size_t at = peer_tail_ & (ring_ - 1);
      const std::uint32_t length = d::shm_load_length(data + at);
      if (length == d::shm_wrap_marker) {
        peer_tail_ += ring_ - at;
        continue;
      }
      const std::size_t record = d::shm_record_size(length);
      if (length > max() || record > head - peer_tail_ || record > ring_ - at) {
        require(!clean_, "the library wrote a malformed record");
        return;
      }
      if (clean_) {
        require(!library_sent_.empty(), "a record the library never sent");
        const auto [n, size] = library_sent_.front();
        require(is_stamped(std::span(data + at + 8, length), n, size),
                "the library's message as sent");
        library_sent_.pop_front();
      }
      peer_tail_ += record;
    }
    d::shm_store(control(out, d::shm_off_tail), peer_tail_, std::memory_order_release);
  }

  // ---- Steps ---------------------------------------------------------------------------------

  void step(script& s) {
    const std::uint8_t op = s.u8();
    switch (op % 8) {
      case 0:
        poke(s);
        break;
      case 1:
        peer_commit(s.u16() % (max() + 1));
        break;
      case 2:
        receive_step(s.u16());
        break;
      case 3:
        if ((op & 8) != 0) {
          batch_step(op >> 4);
        } else {
          view_step();
        }
        break;
      case 4:
        read_bytes_step(s.u8());
        break;
      case 5:
        send_step(s.u16());
        break;
      case 6:
        peer_consume();
        break;
      default:
        data_bell_.reset();
        space_bell_.reset();
        peer_socket_ = {};
        peer_stream_ = {};
        dead_ = true;
        break;
    }
  }

  void poke(script& s) {
    const std::size_t word = s.u16() % (region_size_ / 8);
    const std::uint8_t kind = s.u8();
    std::uint64_t value = s.u64();
    if ((kind & 3) == 1) {
      value %= 2 * ring_;
    } else if ((kind & 3) == 2) {
      value = d::shm_wrap_marker;
    }
    d::shm_store(reinterpret_cast<std::uint64_t*>(region_) + word, value,
                 std::memory_order_relaxed);
    clean_ = false;
  }

  void receive_step(std::uint16_t size) {
    std::vector<std::byte> buffer(size % (max() + 64));
    auto r = channel_.receive(buffer, sockpair::deadline::passed());
    if (r && r.value()) {
      require(*r.value() <= buffer.size(), "receive: size within the buffer");
      check_received(std::span(buffer).first(*r.value()));
    } else {
      check_no_message(r ? std::error_code() : r.error(), buffer.size());
    }
  }

  void view_step() {
    auto r = channel_.receive_view(sockpair::deadline::passed());
    if (!r || !r.value()) {
      check_no_message(r ? std::error_code() : r.error(), SIZE_MAX);
      return;
    }
    const auto view = *r.value();
    require(view.size() <= max(), "view within the largest message");
    // (The library's own mapping of the region: another address than the fuzzer's.)
    const std::byte* in = library_ring(inbound_);
    require(view.data() >= in && view.data() + view.size() <= in + ring_,
            "view inside the inbound ring");
    std::vector<std::byte> copy(view.size());
    d::shm_copy(copy.data(), view.data(), view.size());
    check_received(copy);
    channel_.release();
  }

  // receive_batch (odd `how`) or try_receive_batch (even), at most `how / 2` messages
  // (0: no limit). Every view must lie in the inbound ring; each is copied, then checked
  // against the model, as receive_step's message is.
  void batch_step(unsigned how) {
    const std::size_t limit = how / 2 == 0 ? SIZE_MAX : how / 2;
    std::size_t visited = 0;
    auto visit = [&](std::span<const std::byte> view) {
      ++visited;
      require(view.size() <= max(), "batch: a view within the largest message");
      const std::byte* in = library_ring(inbound_);
      require(view.data() >= in && view.data() + view.size() <= in + ring_,
              "batch: a view inside the inbound ring");
      std::vector<std::byte> copy(view.size());
      d::shm_copy(copy.data(), view.data(), view.size());
      check_received(copy);
    };
    auto r = (how & 1) != 0 ? channel_.receive_batch(visit, sockpair::deadline::passed(), limit)
                            : channel_.try_receive_batch(visit, limit);
    if (!r) {
      require(visited == 0, "batch: an error after a visit");
      check_no_message(r.error(), SIZE_MAX);
      return;
    }
    if (!r.value()) {
      require(visited == 0, "batch: the end after a visit");
      check_no_message({}, SIZE_MAX);
      return;
    }
    require(*r.value() == visited, "batch: the count is the visits", static_cast<long>(*r.value()));
    require(visited <= limit, "batch: at most the limit");
    if (visited == 0) {
      require((how & 1) == 0, "batch: receive_batch returned 0 visits");
      // Nothing there now (try_receive_batch): an honest peer has nothing published unread.
      require(!clean_ || expected_.empty(), "batch: nothing taken with a message published");
      return;
    }
    if (clean_ && limit == SIZE_MAX) {
      require(expected_.empty(), "batch: every published message taken");
    }
  }

  void read_bytes_step(std::uint8_t size) {
    std::vector<std::byte> buffer(static_cast<std::size_t>(size) + 1);
    auto r = channel_.read_bytes(buffer, sockpair::deadline::passed());
    if (r) {
      require(r.value() <= buffer.size(), "read_bytes within the buffer");
      if (r.value() == 0) {
        // The end: read_bytes skips empty messages on the way there.
        while (!expected_.empty() && expected_.front().second == 0) {
          expected_.pop_front();
        }
        check_no_message({}, SIZE_MAX);
      }
    } else {
      require(documented(r.error()), "read_bytes: a documented error", r.error().value());
      require(!clean_ || r.error() != sockpair::errc::peer_protocol_violation,
              "read_bytes: no violation from an honest peer");
    }
    // Byte reads split messages and skip empty ones: the model follows whole messages only.
    clean_ = false;
  }

  void send_step(std::uint16_t wanted) {
    const std::size_t size = wanted % (max() + 1);
    auto room = channel_.reserve(size, sockpair::deadline::passed());
    if (!room) {
      const auto& e = room.error();
      require(documented(e), "reserve: a documented error", e.value());
      require(!clean_ || e != sockpair::errc::peer_protocol_violation,
              "reserve: no violation from an honest peer");
      counted.violations += e == sockpair::errc::peer_protocol_violation ? 1 : 0;
      return;
    }
    require(room.value().size() == size, "reserve: the size asked for");
    const std::byte* out = library_ring(1 - inbound_);
    require(room.value().data() >= out && room.value().data() + size <= out + ring_,
            "reservation inside the outbound ring");
    for (std::size_t i = 0; i < size; ++i) {
      room.value()[i] = stamp_byte(library_next_, i);
    }
    const auto how =
        library_next_ % 2 == 1 ? sockpair::shm_publish::batched : sockpair::shm_publish::now;
    auto committed = channel_.commit(size, how);
    require(committed || committed.error() == std::errc::broken_pipe, "commit");
    library_sent_.emplace_back(library_next_++, size);
  }

  void check_received(std::span<const std::byte> got) {
    ++counted.messages;
    if (!clean_) {
      return;
    }
    require(!expected_.empty(), "a message the peer never committed");
    const auto [n, size] = expected_.front();
    require(is_stamped(got, n, size), "the message as committed, whole");
    expected_.pop_front();
  }

  // No message came: `e` (or, with no error, the end of the stream).
  void check_no_message(const std::error_code& e, std::size_t buffer) {
    if (!e) {
      require(!clean_ || (dead_ && expected_.empty()), "the end only after the peer died");
      return;
    }
    require(documented(e), "receive: a documented error", e.value());
    counted.violations += e == sockpair::errc::peer_protocol_violation ? 1 : 0;
    if (clean_) {
      require(e != sockpair::errc::peer_protocol_violation, "no violation from an honest peer");
      if (e == std::errc::timed_out) {
        require(expected_.empty(), "timed out with a message committed");
      }
      if (e == sockpair::errc::message_truncated) {
        require(!expected_.empty() && expected_.front().second > buffer, "truncated when longer");
      }
    }
  }

  sockpair::shm_channel channel_;
  std::byte* region_ = nullptr;
  std::size_t region_size_ = 0;
  std::size_t ring_ = 0;
  int inbound_ = 0;
  sockpair::unique_fd data_bell_;
  sockpair::unique_fd space_bell_;
  sockpair::socket<sockpair::seqpacket> peer_socket_;
  sockpair::socket<sockpair::stream> peer_stream_;
  bool clean_ = true;
  bool dead_ = false;
  std::uint64_t peer_head_ = 0;
  std::uint64_t peer_tail_ = 0;
  std::uint64_t sent_ = 0;
  std::deque<std::pair<std::uint64_t, std::size_t>> expected_;
  std::uint64_t library_next_ = 0;
  std::deque<std::pair<std::uint64_t, std::size_t>> library_sent_;
};

}  // namespace

// Called by the corpus driver (fuzz/corpus_driver.cpp) at exit.
void shm_fuzzer_print_totals() {
  std::printf("shm_fuzzer: %llu inputs, %llu channels, %llu messages, %llu violations seen\n",
              counted.inputs, counted.channels, counted.messages, counted.violations);
}

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ++counted.inputs;
  script s(std::span<const std::uint8_t>(data, size));
  const int before = count_open_fds();
  {
    session run;
    run.run(s);
  }
  require(count_open_fds() == before, "no descriptor outlives an input", count_open_fds() - before);
  return 0;
}
