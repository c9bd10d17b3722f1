// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::shm_channel`: a two-way channel through shared memory, set up, woken and watched
// over a socket pair. Linux only.
//
//   // One end creates the region and passes it over the pair; the other accepts it.
//   auto a = sockpair::shm_channel::create(std::move(pair.first)).value();
//   auto b = sockpair::shm_channel::accept(std::move(pair.second)).value();
//   if (auto r = a.send(message, 1s); !r) ...                // copy in, publish
//   a.send(small, 1s, sockpair::shm_publish::batched);        // many small ones ...
//   a.flush();                                                // ... published together
//   auto m = b.receive_view(1s);   // result<optional<span>>: a message in place, or nullopt
//   ...use *m.value()...; b.release();                       // at the end of the stream
//
// The data never crosses the kernel: each direction is a single-producer, single-consumer ring
// in a sealed memfd that both processes map. The socket pair carries what only it can: the
// memfd (SCM_RIGHTS), the wake-up of a peer that went to sleep, and the news of its death
// (end of stream / hang-up). A caller that keeps up makes no system call at all.
//
// The peer is not trusted: every index and length it controls is copied once and checked
// before use, and a violation fails with `errc::peer_protocol_violation`, never with a crash
// or a hang. Payload bytes are the peer's to change at any time, even while you read them:
// see docs/shared_memory.md (what to copy before you validate, and when to use the copying calls).
//
// Not included by <socketpair/socketpair.hpp>: it brings <atomic> and <sys/mman.h>, which
// every other user would parse for nothing.
#pragma once

#include <socketpair/ancillary.hpp>
#include <socketpair/deadline.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/options.hpp>
#include <socketpair/detail/shm_region.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/transfer.hpp>
#include <socketpair/unique_fd.hpp>

#if !defined(__linux__)
#error "sockpair: shm_channel.hpp needs Linux (memfd_create, file seals)."
#endif

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace sockpair {

/// How a shm_channel is made and how it waits.
struct shm_options {
  /// Bytes of each direction's ring (the creator's choice; an acceptor takes what it is
  /// given). A power of two from 4 KiB to 1 GiB. The largest message is half of it less 8.
  std::size_t ring_size = std::size_t{256} * 1024;
  /// The largest ring an acceptor agrees to map; a larger region is
  /// `errc::peer_protocol_violation`.
  std::size_t max_ring_size = std::size_t{64} << 20;
  /// The longest a call that must wait spins (polling the shared memory, no system call)
  /// before it goes to sleep on the socket. Zero: sleep at once. Spinning trades CPU time for
  /// latency; it only helps when the peer runs on another CPU at the same time, so each end
  /// adapts its spin within this bound: halved after a spin that found nothing, doubled after
  /// one that succeeded (never below 1 µs); and a waiter whose peer last ran on its own CPU
  /// (a word each end stores in the region when it waits or wakes the other) does not spin.
  std::chrono::nanoseconds spin = std::chrono::microseconds(20);
};

/// How one end's waits went (`shm_channel::wait_counts`), for tests and tuning.
struct shm_wait_counts {
  /// Waits that spun (for up to `shm_options::spin`) before they slept or found the peer's work.
  std::uint64_t spun = 0;
  /// Waits that slept at once, without spinning, because the peer last ran on this end's CPU.
  std::uint64_t slept_without_spinning = 0;
};

/// Which end of a shm_channel this is.
enum class shm_role { creator, acceptor };

/// When a committed message becomes visible to the peer.
enum class shm_publish {
  /// At once: the commit publishes it (and every message batched before it), and wakes a
  /// peer that sleeps waiting for data.
  now,
  /// Later, with the others batched before it: at the next `flush()` or `now` commit, once
  /// a sixteenth of the ring is waiting unpublished, before the writer waits for room, and
  /// when the channel is closed. Publishing is the only step of a send that touches memory
  /// the peer's reader watches, so batching it is what makes small messages cheap.
  batched,
};

/// One end of a shared-memory channel. Move-only; a moved-from channel is empty, and every
/// call on it fails with EBADF.
///
/// Threads: the sending calls (`reserve`, `commit`, `send`, `flush`, `write_bytes`) and the
/// receiving calls (`receive_view`, `release`, `receive`, `receive_batch`, `try_receive_batch`,
/// `read_bytes`) may run on two different threads at once. Two threads must not send at once,
/// nor two receive at once.
/// Destroying or assigning the channel publishes what was committed `shm_publish::batched`.
///
/// Errors common to the calls that wait: std::errc::timed_out when the deadline passes
/// first; `errc::peer_protocol_violation` when the peer broke the protocol (from then on every
/// call in that direction fails so); EBADF on an empty channel.
// (Padding: the sending and the receiving state each start a cache line of their own, on
// purpose, so that a sending and a receiving thread do not share one.)
class shm_channel {  // NOLINT(clang-analyzer-optin.performance.Padding): see above
 public:
  shm_channel() noexcept = default;
  shm_channel(shm_channel&& other) noexcept { take(other); }
  shm_channel& operator=(shm_channel&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  shm_channel(const shm_channel&) = delete;
  shm_channel& operator=(const shm_channel&) = delete;
  ~shm_channel() { reset(); }

  // ---- Making one ----------------------------------------------------------------------------

  /// Creates the shared region and offers it over `sock` (an AF_UNIX stream or seqpacket
  /// end, consumed: the channel owns it from now on, and closes it on failure). The peer must
  /// call `accept` on the other end. Creates a memfd of `shm_region_size(ring_size)` bytes
  /// (MFD_CLOEXEC, sealed against shrinking, growing and further seals), maps it, creates two
  /// internal stream pairs for wake-ups, and sends the memfd and one end of each with one
  /// 16-byte hello message (SCM_RIGHTS). Does not wait for the peer: messages sent before it
  /// accepts wait in the ring.
  ///
  /// Errors: std::errc::invalid_argument for a ring_size that is no power of two in
  /// [4 KiB, 1 GiB]; memfd_create/ftruncate/fcntl/mmap/socketpair errno values (EMFILE,
  /// ENOMEM, ...); sendmsg's (EPIPE if the peer is gone); std::errc::timed_out if the socket
  /// stays full past `until`.
  template <socket_type Type>
  requires(std::same_as<Type, stream> || std::same_as<Type, seqpacket>)
      [[nodiscard]] static result<shm_channel> create(socket<Type, unix_domain> sock,
                                                      const shm_options& options = {},
                                                      deadline until = deadline::never()) noexcept {
    const std::size_t ring = options.ring_size;
    if (ring < detail::shm_min_ring_size || ring > detail::shm_max_ring_size ||
        (ring & (ring - 1)) != 0) {
      return detail::invalid_argument_error();
    }
    const std::size_t size = detail::shm_region_size(ring);
    BOOST_OUTCOME_TRY(auto memfd, detail::shm_create_memfd(size));
    BOOST_OUTCOME_TRY(auto mapping, detail::shm_map(memfd.get(), size));
    std::byte* const base = mapping.base();
    detail::shm_store(detail::shm_word(base, detail::shm_off_magic), detail::shm_magic,
                      std::memory_order_relaxed);
    detail::shm_store(detail::shm_word(base, detail::shm_off_version), detail::shm_version,
                      std::memory_order_relaxed);
    detail::shm_store(detail::shm_word(base, detail::shm_off_ring_size), ring,
                      std::memory_order_relaxed);
    BOOST_OUTCOME_TRY(auto data_pair, make_bell_pair());
    BOOST_OUTCOME_TRY(auto space_pair, make_bell_pair());

    const std::array<std::byte, hello_size> hello = make_hello();
    BOOST_OUTCOME_TRY(wait_socket(sock.native_handle(), POLLOUT, until));
    const std::array<int, 3> fds = {memfd.get(), data_pair[1].get(), space_pair[1].get()};
    BOOST_OUTCOME_TRY(auto sent, send_with_fds(sock, hello, std::span<const int>(fds)));
    if constexpr (std::same_as<Type, stream>) {
      std::size_t done = sent;  // the descriptors went with the first bytes
      while (done < hello.size()) {
        BOOST_OUTCOME_TRY(wait_socket(sock.native_handle(), POLLOUT, until));
        BOOST_OUTCOME_TRY(auto more, sock.send(std::span(hello).subspan(done)));
        done += more;
      }
    }
    shm_channel channel;
    channel.role_ = shm_role::creator;
    channel.socket_ = unique_fd(sock.release());
    channel.data_bell_ = std::move(data_pair[0]);
    channel.space_bell_ = std::move(space_pair[0]);
    channel.bind(std::move(mapping), ring, options.spin);
    return channel;  // memfd and the peer's ends close here: the peer holds its own copies
  }

  /// Accepts the region offered by `create` on the other end of `sock` (an AF_UNIX stream or
  /// seqpacket end, consumed as by `create`), waiting for it until `until`. Checks the memfd
  /// before mapping it (sealed against shrinking, growing and sealing; a size that is a
  /// valid region with a ring no larger than `options.max_ring_size`), then the header it
  /// holds (copied once), and that both wake-up descriptors are AF_UNIX stream sockets.
  /// `options.ring_size` is ignored: the creator chose.
  ///
  /// Errors: `errc::peer_protocol_violation` for any of the checks above or a malformed
  /// hello (wrong bytes, fewer than three descriptors); `errc::unexpected_eof` if the peer
  /// closed first; `errc::control_truncated` if it sent more than three descriptors (all
  /// closed); std::errc::timed_out; recvmsg/mmap errno values.
  template <socket_type Type>
  requires(std::same_as<Type, stream> || std::same_as<Type, seqpacket>)
      [[nodiscard]] static result<shm_channel> accept(socket<Type, unix_domain> sock,
                                                      const shm_options& options = {},
                                                      deadline until = deadline::never()) noexcept {
    std::array<std::byte, hello_size> hello{};
    BOOST_OUTCOME_TRY(wait_socket(sock.native_handle(), POLLIN, until));
    auto received = receive_with_fds<3>(sock, hello);
    if (!received) {
      return received.assume_error();
    }
    auto& got = received.assume_value();  // used in place: descriptors are not moved twice
    std::size_t done = got.size;
    if (done == 0) {
      return make_error_code(errc::unexpected_eof);
    }
    if constexpr (std::same_as<Type, stream>) {
      while (done < hello.size()) {
        BOOST_OUTCOME_TRY(wait_socket(sock.native_handle(), POLLIN, until));
        BOOST_OUTCOME_TRY(auto more, sock.receive(std::span(hello).subspan(done)));
        if (more == 0) {
          return make_error_code(errc::unexpected_eof);
        }
        done += more;
      }
    }
    if (done != hello.size() || hello != make_hello() || got.fds.size() != 3) {
      return make_error_code(errc::peer_protocol_violation);
    }
    const std::size_t max_ring = options.max_ring_size < detail::shm_max_ring_size
                                     ? options.max_ring_size
                                     : detail::shm_max_ring_size;
    BOOST_OUTCOME_TRY(auto size, detail::shm_check_memfd(got.fds[0].get(), max_ring));
    for (std::size_t i = 1; i < 3; ++i) {
      if (!detail::check_socket_kind(got.fds[i].get(), SOCK_STREAM, AF_UNIX)) {
        return make_error_code(errc::peer_protocol_violation);
      }
    }
    BOOST_OUTCOME_TRY(auto mapping, detail::shm_map(got.fds[0].get(), size));
    std::byte* const base = mapping.base();
    // The identity, copied once; the peer may change it afterwards, but it is never read again.
    const std::uint64_t magic =
        detail::shm_load(detail::shm_word(base, detail::shm_off_magic), std::memory_order_relaxed);
    const std::uint64_t layout_version = detail::shm_load(
        detail::shm_word(base, detail::shm_off_version), std::memory_order_relaxed);
    const std::uint64_t ring = detail::shm_load(detail::shm_word(base, detail::shm_off_ring_size),
                                                std::memory_order_relaxed);
    if (magic != detail::shm_magic || layout_version != detail::shm_version ||
        detail::shm_region_size(ring) != size) {
      return make_error_code(errc::peer_protocol_violation);
    }
    shm_channel channel;
    channel.role_ = shm_role::acceptor;
    channel.socket_ = unique_fd(sock.release());
    channel.data_bell_ = std::move(got.fds[1]);
    channel.space_bell_ = std::move(got.fds[2]);
    channel.bind(std::move(mapping), static_cast<std::size_t>(ring), options.spin);
    return channel;
  }

  // ---- Sending -------------------------------------------------------------------------------

  /// The largest message (and the largest reservation): half the ring less 8 bytes.
  [[nodiscard]] std::size_t max_message_size() const noexcept { return max_payload_; }

  /// Waits until the ring has room for a message of `size` bytes and returns that room, in
  /// the shared memory itself: fill it, then `commit`. Nothing is visible to the peer before
  /// `commit`. A second `reserve` before `commit` abandons the first reservation.
  ///
  /// Errors: std::errc::message_size past `max_message_size()`; std::errc::broken_pipe when
  /// the peer is gone (closed or dead) while the ring is full; the common ones.
  [[nodiscard]] result<std::span<std::byte>> reserve(std::size_t size,
                                                     deadline until = deadline::never()) noexcept {
    if (out_ring_ == nullptr) [[unlikely]] {
      return errno_code(EBADF);
    }
    if (w_.failure) [[unlikely]] {
      return w_.failure;
    }
    if (size > max_payload_) [[unlikely]] {
      return errno_code(EMSGSIZE);
    }
    const std::size_t need = detail::shm_record_size(size);
    std::size_t at = static_cast<std::size_t>(w_.head) & mask_;
    const std::size_t to_end = ring_size_ - at;
    const std::size_t total = need <= to_end ? need : to_end + need;
    if (w_.head + total - w_.tail > ring_size_) {
      if (w_.published != w_.head) {
        // The reader can free only what it has seen; it sees batched messages from now on.
        BOOST_OUTCOME_TRY(publish());
      }
      BOOST_OUTCOME_TRY(wait_for_space(total, until));
    }
    if (need > to_end) {
      detail::shm_store_length(out_ring_ + at, detail::shm_wrap_marker);
      w_.head += to_end;  // published with the record that follows
      at = 0;
    }
    if (w_.tail + ring_size_ - w_.head > prefetch_distance + total) {
      // Free room, read by the peer a lap ago: ask for it writable before it is needed.
      __builtin_prefetch(out_ring_ + ((at + prefetch_distance) & mask_), 1);
    }
    w_.reserved_at = at;
    w_.reserved = size;
    w_.has_reservation = true;
    return std::span<std::byte>(out_ring_ + at + detail::shm_record_header, size);
  }

  /// Commits the reserved message with its final size (at most what was reserved; 0 is an
  /// empty message): stores its length, then, when it is published (`how`; see
  /// shm_publish), the new head with release ordering, so the peer never sees a message
  /// before its bytes. Publishing wakes the peer (one send(2) on the internal pair) only if
  /// it went to sleep waiting.
  ///
  /// Errors: std::errc::invalid_argument with no reservation or a size past it (nothing
  /// committed); std::errc::broken_pipe if the peer was asleep and is gone (the message is
  /// published, but no one will read it).
  [[nodiscard]] result<void> commit(std::size_t size, shm_publish how = shm_publish::now) noexcept {
    if (!w_.has_reservation || size > w_.reserved) [[unlikely]] {
      return detail::invalid_argument_error();
    }
    w_.has_reservation = false;
    detail::shm_store_length(out_ring_ + w_.reserved_at, static_cast<std::uint32_t>(size));
    w_.head += detail::shm_record_size(size);
    if (how == shm_publish::batched && w_.head - w_.published < publish_batch_) [[likely]] {
      return success();
    }
    return publish();
  }

  /// Copies `message` into the ring and commits it: `reserve` + copy + `commit(size, how)`.
  [[nodiscard]] result<void> send(std::span<const std::byte> message,
                                  deadline until = deadline::never(),
                                  shm_publish how = shm_publish::now) noexcept {
    // The common case, without a reservation: a record that fits before the ring's end in the
    // room last seen free. (An empty channel has a ring of 0 bytes and never gets here.)
    const std::size_t size = message.size();
    const std::uint64_t head = w_.head;
    const std::size_t at = static_cast<std::size_t>(head) & mask_;
    if (size <= max_payload_ && !w_.failure) [[likely]] {
      const std::size_t need = detail::shm_record_size(size);
      if (head + need - w_.tail <= ring_size_ && need <= ring_size_ - at) [[likely]] {
        std::byte* const record = out_ring_ + at;
        if (head + need + prefetch_distance - w_.tail <= ring_size_) {
          __builtin_prefetch(out_ring_ + ((at + prefetch_distance) & mask_), 1);
        }
        detail::shm_copy(record + detail::shm_record_header, message.data(), size);
        detail::shm_store_length(record, static_cast<std::uint32_t>(size));
        w_.has_reservation = false;  // a send abandons a reservation, as a reserve would
        w_.head = head + need;
        if (how == shm_publish::batched && w_.head - w_.published < publish_batch_) [[likely]] {
          return success();
        }
        return publish();
      }
    }
    return send_slowly(message, until, how);
  }

  /// Publishes every message committed with `shm_publish::batched` and not published yet, as
  /// a `now` commit would; does nothing (no store, no system call) when there is none.
  ///
  /// Errors: EBADF on an empty channel; std::errc::broken_pipe as `commit`.
  [[nodiscard]] result<void> flush() noexcept {
    if (out_ring_ == nullptr) [[unlikely]] {
      return errno_code(EBADF);
    }
    if (w_.published == w_.head) {
      return success();
    }
    return publish();
  }

  /// Bulk bytes: copies the bytes of `out` not yet written into the ring as records of at most
  /// `max_message_size()` bytes, waiting for room as needed; `out.done()` advances as each
  /// record is committed, and calling again with the same `out` resumes (as
  /// `socket::send_all`). Returns `out.size()`. The reader may take them with `read_bytes`
  /// (boundaries ignored) or as messages.
  [[nodiscard]] result<std::size_t> write_bytes(outgoing& out,
                                                deadline until = deadline::never()) noexcept {
    std::size_t& done = detail::transfer_access::done(out);
    const std::span<const std::byte> data = out.bytes();
    while (done < data.size()) {
      const std::size_t left = data.size() - done;
      const std::size_t chunk = left < max_payload_ ? left : max_payload_;
      BOOST_OUTCOME_TRY(auto room, reserve(chunk, until));
      detail::shm_copy(room.data(), data.data() + done, chunk);
      BOOST_OUTCOME_TRY(commit(chunk));
      done += chunk;
    }
    return data.size();
  }

  /// Bulk bytes: all of `data`, as the `outgoing` form (how much was written is not kept).
  [[nodiscard]] result<std::size_t> write_bytes(std::span<const std::byte> data,
                                                deadline until = deadline::never()) noexcept {
    outgoing out(data);
    return write_bytes(out, until);
  }

  // ---- Receiving -----------------------------------------------------------------------------

  /// Waits for the next message and returns it in place, in the shared memory: valid until
  /// `release()` or the next receiving call, which releases it. nullopt: the peer is gone
  /// (closed or dead) and every message it committed has been received. A record only partly
  /// consumed by `read_bytes` is returned as its remaining bytes.
  ///
  /// Trust: the span's bounds were checked and stay inside the mapping, but the peer can
  /// change its bytes at any time, even while you read them. Copy what you validate before
  /// you validate it, or use `receive`, which copies.
  [[nodiscard]] result<std::optional<std::span<const std::byte>>> receive_view(
      deadline until = deadline::never()) noexcept {
    release();
    BOOST_OUTCOME_TRY(auto found, next_record(until));
    if (!found) {
      return std::optional<std::span<const std::byte>>();
    }
    r_.holding = true;
    return std::optional<std::span<const std::byte>>(current_payload());
  }

  /// Gives the message from `receive_view` back to the ring (the peer may overwrite it from
  /// now on). Wakes the peer only if it went to sleep waiting for room. Does nothing when no
  /// message is held.
  void release() noexcept {
    if (!r_.holding) {
      return;
    }
    r_.holding = false;
    consume_record();
  }

  /// Copies the next message into `buffer` and returns its size; nullopt at the end, as
  /// `receive_view`. A message longer than `buffer` fails with `errc::message_truncated` and
  /// stays queued (`receive_view` shows it whole).
  [[nodiscard]] result<std::optional<std::size_t>> receive(
      std::span<std::byte> buffer, deadline until = deadline::never()) noexcept {
    release();
    BOOST_OUTCOME_TRY(auto found, next_record(until));
    if (!found) {
      return std::optional<std::size_t>();
    }
    const std::span<const std::byte> payload = current_payload();
    if (payload.size() > buffer.size()) {
      return make_error_code(errc::message_truncated);
    }
    detail::shm_copy(buffer.data(), payload.data(), payload.size());
    consume_record();
    return std::optional<std::size_t>(payload.size());
  }

  /// Bulk bytes: waits until at least one byte is there, then copies as many as are there
  /// (up to `buffer.size()`), across message boundaries. 0 means the end: the peer is gone
  /// and everything it committed has been read (or `buffer` is empty).
  [[nodiscard]] result<std::size_t> read_bytes(std::span<std::byte> buffer,
                                               deadline until = deadline::never()) noexcept {
    release();
    std::size_t done = 0;
    while (done < buffer.size()) {
      // Wait for the first byte only; after that take only what is already there.
      BOOST_OUTCOME_TRY(auto found, next_record(done == 0 ? until : deadline::passed(), done > 0));
      if (!found) {
        break;
      }
      const std::span<const std::byte> payload = current_payload();
      const std::size_t room = buffer.size() - done;
      const std::size_t n = payload.size() < room ? payload.size() : room;
      detail::shm_copy(buffer.data() + done, payload.data(), n);
      done += n;
      if (n == payload.size()) {
        consume_record();
      } else {
        r_.partial += n;
      }
    }
    return done;
  }

  /// Zero-copy reading in batches: waits until at least one message is there (until
  /// `until`), then calls `visit(std::span<const std::byte>)` for it and for every further
  /// message already published, in order, up to `max_messages` (at least 1), and returns how
  /// many it visited: every message published before the call, unless `max_messages` stops
  /// it first. nullopt: the end, as `receive_view` (the peer is gone and every message it
  /// committed has been received). The whole batch costs at most one load of the peer's head
  /// and one store of this end's tail, after the last visit: only then may the peer reuse
  /// the room, so every span stays valid until `visit` returns, and no longer.
  ///
  /// Each record is checked as `receive` checks it before `visit` sees it. A violation found
  /// after at least one visit ends the batch there: the messages visited are consumed (never
  /// visited again) and counted, and the next receiving call fails with the violation. A
  /// message held from `receive_view` is released first; a record `read_bytes` is part-way
  /// through is visited as its remaining bytes.
  ///
  /// `visit` runs inside this noexcept call (an exception ends the program); it may send on
  /// this channel, but must not call its receiving calls. Trust: as `receive_view`, the bytes
  /// are the peer's to change while you read them.
  ///
  /// Errors: `errc::peer_protocol_violation` (nothing visited); std::errc::timed_out when the
  /// deadline passes with nothing there; EBADF on an empty channel.
  template <class Visit>
  requires std::invocable<Visit&, std::span<const std::byte>>
  [[nodiscard]] result<std::optional<std::size_t>> receive_batch(
      Visit&& visit, deadline until = deadline::never(),
      std::size_t max_messages = std::numeric_limits<std::size_t>::max()) noexcept {
    return take_batch(visit, until, false, max_messages);
  }

  /// `receive_batch` without waiting: 0 when no message is there now (no error), after one
  /// look at the wake-up socket (a poll(2)) so that a dead peer is noticed: nullopt at the
  /// end. Errors: `errc::peer_protocol_violation`; EBADF on an empty channel.
  template <class Visit>
  requires std::invocable<Visit&, std::span<const std::byte>>
  [[nodiscard]] result<std::optional<std::size_t>> try_receive_batch(
      Visit&& visit, std::size_t max_messages = std::numeric_limits<std::size_t>::max()) noexcept {
    return take_batch(visit, deadline::passed(), true, max_messages);
  }

  // ---- Inspection ----------------------------------------------------------------------------

  /// Which end this is.
  [[nodiscard]] shm_role role() const noexcept { return role_; }

  /// Bytes of each ring.
  [[nodiscard]] std::size_t ring_size() const noexcept { return ring_size_; }

  /// The spin time of calls that wait (see `shm_options::spin`). Set it from the one thread
  /// that uses the channel, or before a second thread starts.
  [[nodiscard]] std::chrono::nanoseconds spin() const noexcept { return spin_; }
  void set_spin(std::chrono::nanoseconds spin) noexcept { spin_ = spin; }

  /// How this end's waits went since it was made, both directions together (see
  /// `shm_options::spin`). Read it from a thread that uses the channel, or once the threads
  /// that do are joined: the counts are plain integers of the two sides.
  [[nodiscard]] shm_wait_counts wait_counts() const noexcept {
    return {w_.spinning.spun + r_.spinning.spun,
            w_.spinning.slept_at_once + r_.spinning.slept_at_once};
  }

  /// The socket the channel was made from, still owned by the channel. The channel never
  /// reads or writes it after the handshake.
  [[nodiscard]] int socket_handle() const noexcept { return socket_.get(); }

  /// The whole shared mapping (header page and both rings), for tests and diagnostics.
  /// Writing it is what a hostile peer can do; `receive` must survive it.
  [[nodiscard]] std::span<std::byte> shared_region() const noexcept {
    return {mapping_.base(), mapping_.size()};
  }

  /// True when the channel owns a region.
  explicit operator bool() const noexcept { return mapping_.base() != nullptr; }

 private:
  static constexpr std::size_t hello_size = 16;
  // The least an adaptive spin lasts (see spin_for).
  static constexpr std::chrono::nanoseconds min_spin{1000};
  static constexpr unsigned probe_every = 128;
  // How far ahead of a record a reader or writer prefetches: a few cache lines.
  static constexpr std::size_t prefetch_distance = 512;

  static std::array<std::byte, hello_size> make_hello() noexcept {
    std::array<std::byte, hello_size> hello{};
    constexpr std::string_view text("sockpair-shm v1\0", hello_size);  // 15 characters, a NUL
    for (std::size_t i = 0; i < hello_size; ++i) {
      hello[i] = static_cast<std::byte>(text[i]);
    }
    return hello;
  }

  static result<std::array<unique_fd, 2>> make_bell_pair() noexcept {
    std::array<int, 2> fds = {-1, -1};
    // Blocking, so that a sleep with no deadline is one recv(2) (see sleep_once); every other
    // use passes MSG_DONTWAIT.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
      return last_errno_code();
    }
    return std::array<unique_fd, 2>{unique_fd(fds[0]), unique_fd(fds[1])};
  }

  // Waits (poll) for `events` on `fd` until `until`: std::errc::timed_out after it.
  static result<void> wait_socket(int fd, short events, deadline until) noexcept {
    for (;;) {
      ::timespec left{};
      const bool finite = until.timespec_left(deadline::clock::now(), left);
      pollfd p{fd, events, 0};
      const int rc = ::ppoll(&p, 1, finite ? &left : nullptr, nullptr);
      if (rc > 0) {
        if ((p.revents & POLLNVAL) != 0) {
          return errno_code(EBADF);
        }
        return success();  // ready, or an error/hang-up the next call reports
      }
      if (rc == 0) {
        if (until.passed_at(deadline::clock::now())) {
          return errno_code(ETIMEDOUT);
        }
        continue;
      }
      if (errno != EINTR) {
        return last_errno_code();
      }
    }
  }

  void bind(detail::shm_mapping mapping, std::size_t ring, std::chrono::nanoseconds spin) noexcept {
    mapping_ = std::move(mapping);
    std::byte* const base = mapping_.base();
    ring_size_ = ring;
    mask_ = ring - 1;
    max_payload_ = detail::shm_max_payload(ring);
    publish_batch_ = ring / 16;
    spin_ = spin;
    const int out = role_ == shm_role::creator ? 0 : 1;
    const int in = 1 - out;
    out_ring_ = base + detail::shm_header_size + static_cast<std::size_t>(out) * ring;
    in_ring_ = base + detail::shm_header_size + static_cast<std::size_t>(in) * ring;
    const std::size_t oc = detail::shm_control_offset(out);
    const std::size_t ic = detail::shm_control_offset(in);
    out_head_ = detail::shm_word(base, oc + detail::shm_off_head);
    out_tail_ = detail::shm_word(base, oc + detail::shm_off_tail);
    out_data_waiting_ = detail::shm_word(base, oc + detail::shm_off_data_waiting);
    out_space_waiting_ = detail::shm_word(base, oc + detail::shm_off_space_waiting);
    in_head_ = detail::shm_word(base, ic + detail::shm_off_head);
    in_tail_ = detail::shm_word(base, ic + detail::shm_off_tail);
    in_data_waiting_ = detail::shm_word(base, ic + detail::shm_off_data_waiting);
    in_space_waiting_ = detail::shm_word(base, ic + detail::shm_off_space_waiting);
    own_cpu_ = detail::shm_word(base, detail::shm_cpu_offset(out));
    peer_cpu_ = detail::shm_word(base, detail::shm_cpu_offset(in));
  }

  void take(shm_channel& other) noexcept {
    role_ = other.role_;
    socket_ = std::move(other.socket_);
    data_bell_ = std::move(other.data_bell_);
    space_bell_ = std::move(other.space_bell_);
    mapping_ = std::move(other.mapping_);
    ring_size_ = std::exchange(other.ring_size_, 0);
    mask_ = std::exchange(other.mask_, 0);
    max_payload_ = std::exchange(other.max_payload_, 0);
    publish_batch_ = std::exchange(other.publish_batch_, 0);
    spin_ = other.spin_;
    out_ring_ = std::exchange(other.out_ring_, nullptr);
    in_ring_ = std::exchange(other.in_ring_, nullptr);
    out_head_ = other.out_head_;
    out_tail_ = other.out_tail_;
    out_data_waiting_ = other.out_data_waiting_;
    out_space_waiting_ = other.out_space_waiting_;
    in_head_ = other.in_head_;
    in_tail_ = other.in_tail_;
    in_data_waiting_ = other.in_data_waiting_;
    in_space_waiting_ = other.in_space_waiting_;
    own_cpu_ = other.own_cpu_;
    peer_cpu_ = other.peer_cpu_;
    w_ = std::exchange(other.w_, writer_state{});
    r_ = std::exchange(other.r_, reader_state{});
  }

  void reset() noexcept {
    // Batched messages are published (no bell: the hang-up below wakes a sleeping peer, which
    // then reads the final head). Unmapped next, then the descriptors: the peer sees the
    // hang-up only once this end is no longer touching the region.
    if (out_ring_ != nullptr && w_.published != w_.head) {
      w_.published = w_.head;
      detail::shm_store(out_head_, w_.head, std::memory_order_seq_cst);
    }
    mapping_.reset();
    out_ring_ = nullptr;
    in_ring_ = nullptr;
    data_bell_.reset();
    space_bell_.reset();
    socket_.reset();
  }

  // `send` when the fast path in it does not apply: room must be waited for, the record must
  // wrap, the message is too large, the channel failed or is empty.
  [[gnu::noinline]] result<void> send_slowly(std::span<const std::byte> message, deadline until,
                                             shm_publish how) noexcept {
    BOOST_OUTCOME_TRY(auto room, reserve(message.size(), until));
    detail::shm_copy(room.data(), message.data(), message.size());
    return commit(message.size(), how);
  }

  // Publishes the head (seq_cst: see sleep_until) and wakes the peer's reader if it sleeps.
  [[gnu::noinline]] result<void> publish() noexcept {
    w_.published = w_.head;
    detail::shm_store(out_head_, w_.head, std::memory_order_seq_cst);
    return wake_if_waiting(out_data_waiting_, w_.last_data_bell, data_bell_.get());
  }

  // ---- Waiting --------------------------------------------------------------------------------

  // After publishing an index (a seq_cst store), a look at the peer's "asleep" word (a seq_cst
  // load): the other half of the sleeper's protocol, see `sleep_until`. A bell per sleep
  // episode (its number), not per message. Ringing records this thread's CPU too (see
  // shares_cpu_with_peer): the sleeper about to run, then wait again, learns where we run.
  result<void> wake_if_waiting(std::uint64_t* waiting, std::uint64_t& last_rung,
                               int bell) noexcept {
    const std::uint64_t episode = detail::shm_load(waiting, std::memory_order_seq_cst);
    if (episode == 0 || episode == last_rung) [[likely]] {
      return success();
    }
    last_rung = episode;
    static_cast<void>(shares_cpu_with_peer());
    auto rung = detail::shm_ring(bell);
    if (!rung && (rung.assume_error() == std::errc::broken_pipe ||
                  rung.assume_error() == std::errc::connection_reset)) {
      return errno_code(EPIPE);
    }
    return rung;
  }

  enum class outcome_of_wait { ready, timed_out, peer_gone };

  // How one end spins in one direction (see spin_for).
  struct spin_state {
    std::chrono::nanoseconds budget = std::chrono::nanoseconds::max();
    std::chrono::nanoseconds last_wait{0};  // of the last wait that slept, spin included
    unsigned waits = 0;
    std::uint64_t spun = 0;           // waits that spun (wait_counts)
    std::uint64_t slept_at_once = 0;  // waits that did not, the peer being on this CPU
  };

  // Spins, then sleeps until `ready()` is true (it loads and validates the peer's index and
  // may fail), the deadline passes, or the peer hangs up. The sleep protocol: store a new
  // episode number in `waiting`, then load the peer's index again; only then poll the bell
  // socket. The peer stores its index, then loads `waiting`. All four accesses are seq_cst, so
  // they fall in one total order and one of the two sides sees the other's store: either the
  // sleeper finds the new index, or the publisher finds the sleeper and rings. (Seq_cst
  // accesses rather than fences: ThreadSanitizer models these, not atomic_thread_fence; on
  // x86-64 the stores are one locked instruction each, the loads plain moves.)
  template <class Ready>
  result<outcome_of_wait> sleep_until(Ready ready, deadline until, std::uint64_t* waiting,
                                      std::uint64_t& episode, int bell,
                                      spin_state& spinning) noexcept {
    BOOST_OUTCOME_TRY(auto now_ready, ready());
    if (now_ready) {
      return outcome_of_wait::ready;
    }
    const deadline::clock::time_point started = deadline::clock::now();
    if (!shares_cpu_with_peer()) {
      BOOST_OUTCOME_TRY(auto spun, spin_for(ready, until, spinning, started));
      if (spun) {
        return outcome_of_wait::ready;
      }
    } else if (spin_ > std::chrono::nanoseconds::zero()) {
      ++spinning.slept_at_once;  // the peer can only run once this thread sleeps
    }
    if (until.passed_at(deadline::clock::now())) {
      return look_once(ready, bell);
    }
    for (;;) {
      BOOST_OUTCOME_TRY(auto slept, sleep_once(ready, until, waiting, episode, bell));
      if (slept) {
        if (*slept == outcome_of_wait::ready) {
          spinning.last_wait = deadline::clock::now() - started;
        }
        return *slept;
      }
    }
  }

  // Records the CPU this thread runs on in this end's CPU word (a relaxed store: a hint, read
  // by the peer when it starts to wait; stored when this end starts to wait and when it rings
  // the peer's bell) and tells whether the peer's word names the same CPU:
  // then the peer, if it runs at all, runs on this CPU, and spinning would only keep it from
  // running. The peer's word is the peer's to write: a false "same" makes this wait sleep at
  // once (as spin = 0 would), a false "other" makes it spin within `spin_` (as it would
  // without the check); neither can make it spin longer. sched_getcpu(3) is the vDSO's.
  bool shares_cpu_with_peer() noexcept {
    const int cpu = ::sched_getcpu();
    if (cpu < 0) {
      return false;
    }
    const std::uint64_t mine = static_cast<std::uint64_t>(cpu) + 1;
    detail::shm_store(own_cpu_, mine, std::memory_order_relaxed);
    return detail::shm_load(peer_cpu_, std::memory_order_relaxed) == mine;
  }

  // Spins (no system call but the clock's vDSO) while the budget and the deadline allow:
  // true once `ready()` is. The budget adapts within `spin_`: it doubles after a spin that
  // succeeded and halves after one that did not, so that where the peer is seldom running at
  // the same time (both ends on one CPU, an oversubscribed machine) a waiter soon stops
  // burning the CPU its peer needs. It never falls below `min_spin` (while `spin_` is not
  // zero). And every `probe_every`-th wait spins longer, twice as long as the last wait that
  // ended in a sleep took (within `spin_`): two ends that both fell back to sleeping would
  // otherwise never find out that the machine has calmed down (each one's short spin ends
  // before the other has woken up); a probe that succeeds restores the whole budget.
  template <class Ready>
  result<bool> spin_for(Ready& ready, deadline until, spin_state& state,
                        deadline::clock::time_point now) noexcept {
    using clock = deadline::clock;
    if (spin_ <= std::chrono::nanoseconds::zero() || until.passed_at(now)) {
      return false;
    }
    const std::chrono::nanoseconds base = state.budget > spin_ ? spin_ : state.budget;
    const bool probe = ++state.waits % probe_every == 0;
    std::chrono::nanoseconds this_spin = base < min_spin ? min_spin : base;
    if (probe && state.last_wait > this_spin / 2) {
      this_spin = state.last_wait > spin_ / 2 ? spin_ : 2 * state.last_wait;
    }
    const clock::time_point spin_end = now + this_spin;
    ++state.spun;
    for (unsigned i = 1;; ++i) {
      detail::cpu_relax();
      BOOST_OUTCOME_TRY(auto spun, ready());
      if (spun) {
        state.budget = probe || base > (spin_ - min_spin) / 2 ? spin_ : base * 2 + min_spin;
        return true;
      }
      if (i % 16 == 0) {
        now = clock::now();
        if (now >= spin_end || until.passed_at(now)) {
          state.budget = base / 2;
          return false;
        }
      }
    }
  }

  // No time to sleep, but one look at the socket (a zero timeout), so that even a call that
  // may not wait learns of a peer that is gone.
  template <class Ready>
  result<outcome_of_wait> look_once(Ready& ready, int bell) noexcept {
    pollfd p{bell, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      if ((p.revents & POLLNVAL) != 0) {
        return errno_code(EBADF);
      }
      if (!detail::shm_drain(bell)) {
        return outcome_of_wait::peer_gone;
      }
    }
    BOOST_OUTCOME_TRY(auto last, ready());
    return last ? outcome_of_wait::ready : outcome_of_wait::timed_out;
  }

  enum class recv_sleep { woken, peer_gone, fall_back };

  // A sleep with no deadline: in recv(2) itself, one system call (a socket pair's own cost).
  // A peer's socket that is non-blocking answers EAGAIN at once: `fall_back` to ppoll(2).
  // Clears `waiting` whenever the sleep is over.
  static result<recv_sleep> sleep_in_recv(int bell, std::uint64_t* waiting) noexcept {
    std::array<char, 64> bells{};
    const ssize_t n = ::recv(bell, bells.data(), bells.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return recv_sleep::fall_back;
    }
    detail::shm_store(waiting, 0, std::memory_order_relaxed);
    if (n > 0 || (n < 0 && errno == EINTR)) {
      return recv_sleep::woken;
    }
    if (n == 0 || errno == ECONNRESET) {
      return recv_sleep::peer_gone;
    }
    return last_errno_code();
  }

  // One sleep of the protocol above: an outcome, or nullopt to sleep again (a bell for an
  // earlier episode, a signal).
  template <class Ready>
  result<std::optional<outcome_of_wait>> sleep_once(Ready& ready, deadline until,
                                                    std::uint64_t* waiting, std::uint64_t& episode,
                                                    int bell) noexcept {
    using clock = deadline::clock;
    episode = episode + 1 == 0 ? 1 : episode + 1;
    detail::shm_store(waiting, episode, std::memory_order_seq_cst);
    auto again = ready();
    if (!again || again.assume_value()) {
      detail::shm_store(waiting, 0, std::memory_order_relaxed);
      if (!again) {
        return again.assume_error();
      }
      return std::optional(outcome_of_wait::ready);
    }
    ::timespec left{};
    const bool finite = until.timespec_left(clock::now(), left);
    if (!finite) {
      BOOST_OUTCOME_TRY(auto how, sleep_in_recv(bell, waiting));
      if (how == recv_sleep::peer_gone) {
        return std::optional(outcome_of_wait::peer_gone);
      }
      if (how == recv_sleep::woken) {
        BOOST_OUTCOME_TRY(auto rung, ready());
        return rung ? std::optional(outcome_of_wait::ready) : std::optional<outcome_of_wait>();
      }
    }
    pollfd p{bell, POLLIN, 0};
    const int rc = ::ppoll(&p, 1, finite ? &left : nullptr, nullptr);
    detail::shm_store(waiting, 0, std::memory_order_relaxed);
    if (rc < 0 && errno != EINTR) {
      return last_errno_code();
    }
    if (rc > 0) {
      if ((p.revents & POLLNVAL) != 0) {
        return errno_code(EBADF);
      }
      if (!detail::shm_drain(bell)) {
        return std::optional(outcome_of_wait::peer_gone);
      }
    }
    BOOST_OUTCOME_TRY(auto woken, ready());
    if (woken) {
      return std::optional(outcome_of_wait::ready);
    }
    if (rc == 0 || until.passed_at(clock::now())) {
      return std::optional(outcome_of_wait::timed_out);
    }
    return std::optional<outcome_of_wait>();
  }

  result<void> wait_for_space(std::size_t total, deadline until) noexcept {
    auto has_room = [&]() noexcept -> result<bool> {
      const std::uint64_t tail = detail::shm_load(out_tail_, std::memory_order_seq_cst);
      if (w_.head - tail > ring_size_) [[unlikely]] {  // behind the head by more than a ring
        w_.failure = make_error_code(errc::peer_protocol_violation);
        return w_.failure;
      }
      w_.tail = tail;
      return w_.head + total - tail <= ring_size_;
    };
    BOOST_OUTCOME_TRY(auto waited, sleep_until(has_room, until, out_space_waiting_,
                                               w_.sleep_episode, space_bell_.get(), w_.spinning));
    switch (waited) {
      case outcome_of_wait::ready:
        return success();
      case outcome_of_wait::timed_out:
        return errno_code(ETIMEDOUT);
      case outcome_of_wait::peer_gone:
        break;
    }
    return errno_code(EPIPE);
  }

  // Finds the next record with a payload (skipping wrap markers), waiting until `until`:
  // true, with r_.at, r_.length and r_.record set and checked. false at the end (the peer is
  // gone and its last committed record was consumed) or, with `stop_if_none`, when the
  // deadline passes with nothing there.
  result<bool> next_record(deadline until, bool stop_if_none = false) noexcept {
    // The common case: a message record already known to be published (no shared index
    // read). A failed reader has r_.head == r_.tail, and so has an empty channel.
    if (r_.head != r_.tail && r_.partial == 0 && take_message()) [[likely]] {
      return true;
    }
    return next_record_slowly(until, stop_if_none);
  }

  // Takes the record at r_.tail if it is a message, in bounds: true. false for anything else
  // (a wrap marker, a violation), which next_record_slowly reads again and decides on.
  bool take_message() noexcept {
    const std::size_t at = static_cast<std::size_t>(r_.tail) & mask_;
    const std::uint32_t length = detail::shm_load_length(in_ring_ + at);
    const std::size_t record = detail::shm_record_size(length);
    const std::uint64_t available = r_.head - r_.tail;
    // The wrap marker is larger than any payload: one test for both.
    if (length > max_payload_ || record > available || record > ring_size_ - at) [[unlikely]] {
      return false;
    }
    hold_record(at, length, record, available);
    return true;
  }

  [[gnu::noinline]] result<bool> next_record_slowly(deadline until, bool stop_if_none) noexcept {
    if (in_ring_ == nullptr) [[unlikely]] {
      return errno_code(EBADF);
    }
    if (r_.failure) [[unlikely]] {
      return r_.failure;
    }
    if (r_.partial != 0) {
      return true;  // the record read_bytes is part-way through: checked already, never re-read
    }
    for (;;) {
      if (r_.head == r_.tail) {
        BOOST_OUTCOME_TRY(auto more, await_data(until, stop_if_none));
        if (!more) {
          return false;
        }
      }
      BOOST_OUTCOME_TRY(auto is_payload, take_record());
      if (is_payload) {
        return true;
      }
    }
  }

  // Waits for the peer's head to move past r_.tail: true when it has; false at the end, or
  // with `stop_if_none` when the deadline passes.
  result<bool> await_data(deadline until, bool stop_if_none) noexcept {
    if (!r_.peer_gone) {
      auto has_data = [this]() noexcept { return refresh_head(); };
      BOOST_OUTCOME_TRY(auto waited, sleep_until(has_data, until, in_data_waiting_,
                                                 r_.sleep_episode, data_bell_.get(), r_.spinning));
      switch (waited) {
        case outcome_of_wait::ready:
          return true;
        case outcome_of_wait::timed_out:
          if (stop_if_none) {
            return false;
          }
          return errno_code(ETIMEDOUT);
        case outcome_of_wait::peer_gone:
          r_.peer_gone = true;
          break;
      }
    }
    // The peer is gone: its head is final. One last look, then the end.
    return refresh_head();
  }

  // Reads and checks the record at r_.tail: 8-aligned, inside the ring, with r_.head - r_.tail
  // bytes of committed data from there (checked by refresh_head). Its length, copied once,
  // decides everything else; the peer may change the original at any time. true: a message,
  // now current; false: a wrap marker, skipped.
  result<bool> take_record() noexcept {
    const std::size_t at = static_cast<std::size_t>(r_.tail) & mask_;
    const std::uint64_t available = r_.head - r_.tail;
    const std::uint32_t length = detail::shm_load_length(in_ring_ + at);
    if (length == detail::shm_wrap_marker) {
      const std::size_t skip = ring_size_ - at;
      if (skip > available) [[unlikely]] {
        return violated_reader();
      }
      r_.tail += skip;
      return false;
    }
    const std::size_t record = detail::shm_record_size(length);
    if (length > max_payload_ || record > available || record > ring_size_ - at) [[unlikely]] {
      return violated_reader();
    }
    hold_record(at, length, record, available);
    return true;
  }

  // The record at `at`, checked, becomes the one the reader holds (fast and slow paths alike).
  [[gnu::always_inline]] void hold_record(std::size_t at, std::uint32_t length, std::size_t record,
                                          std::uint64_t available) noexcept {
    r_.at = at;
    r_.length = length;
    r_.record = record;
    if (available > prefetch_distance + record) {
      // Published, so no longer written: fetch it before it is needed (a prefetch never
      // faults; the offset is masked into the ring all the same).
      __builtin_prefetch(in_ring_ + ((at + prefetch_distance) & mask_));
    }
  }

  std::error_code violated_reader() noexcept {
    r_.head = r_.tail;  // off the fast path of next_record, which does not look at failure
    r_.failure = make_error_code(errc::peer_protocol_violation);
    return r_.failure;
  }

  // Loads the peer's head, checks it, and reports whether data is there.
  result<bool> refresh_head() noexcept {
    const std::uint64_t head = detail::shm_load(in_head_, std::memory_order_seq_cst);
    if (head - r_.tail > ring_size_) [[unlikely]] {  // before our tail, or a ring past it
      return violated_reader();
    }
    r_.head = head;
    return head != r_.tail;
  }

  // receive_batch and try_receive_batch (`stop_if_none`: nothing there now is 0, not a wait):
  // the first record, then the batch from it; nullopt at the end.
  template <class Visit>
  result<std::optional<std::size_t>> take_batch(Visit& visit, deadline until, bool stop_if_none,
                                                std::size_t max_messages) noexcept {
    release();
    const std::uint64_t head = r_.head;
    BOOST_OUTCOME_TRY(auto found, next_record(until, stop_if_none));
    if (!found) {
      if (stop_if_none && !r_.peer_gone) {
        return std::optional<std::size_t>(0);
      }
      return std::optional<std::size_t>();
    }
    return std::optional<std::size_t>(visit_batch(visit, max_messages, r_.head == head));
  }

  // The batch of receive_batch, from the record next_record found: visits it and every
  // further record below the peer's head (wrap markers skipped, each record checked by
  // take_record), then releases them all with one store of the tail. The head is loaded at
  // most once per call: by next_record, or (`may_refresh`, when next_record found the record
  // below a head read before) here, once the records below that head are used up.
  template <class Visit>
  std::size_t visit_batch(Visit& visit, std::size_t max_messages, bool may_refresh) noexcept {
    std::size_t visited = 0;
    for (;;) {
      visit(current_payload());
      ++visited;
      advance_record();
      if (visited >= max_messages) {
        break;
      }
      if (r_.head == r_.tail && may_refresh) {
        // The batch began from the head read by an earlier call: look once more, so that it
        // takes everything published before this call.
        may_refresh = false;
        auto fresh = refresh_head();
        if (!fresh || !fresh.assume_value()) {
          break;  // nothing more (a violation: reported by the next call)
        }
      }
      bool more = false;
      while (r_.head != r_.tail) {
        auto taken = take_record();  // a violation ends the batch; the next call reports it
        if (!taken || taken.assume_value()) {
          more = static_cast<bool>(taken);
          break;
        }
      }
      if (!more) {
        break;
      }
    }
    publish_tail();
    return visited;
  }

  [[nodiscard]] std::span<const std::byte> current_payload() const noexcept {
    return {in_ring_ + r_.at + detail::shm_record_header + r_.partial, r_.length - r_.partial};
  }

  void consume_record() noexcept {
    advance_record();
    publish_tail();
  }

  // Past the record held (this end only; the peer learns it from publish_tail).
  void advance_record() noexcept {
    r_.tail += r_.record;
    r_.partial = 0;
  }

  // Stores this end's tail, releasing the room up to it to the producer.
  void publish_tail() noexcept {
    detail::shm_store(in_tail_, r_.tail, std::memory_order_seq_cst);
    // The consumer's release wakes a producer that sleeps for room; errors do not matter here
    // (a gone peer is reported by the next wait).
    static_cast<void>(wake_if_waiting(in_space_waiting_, r_.last_space_bell, space_bell_.get()));
  }

  // What the sending side keeps to itself. Its own index is authoritative here; the copy in
  // shared memory is only published.
  struct writer_state {
    std::uint64_t head = 0;       // bytes committed (or skipped), ever
    std::uint64_t published = 0;  // the head as last stored in shared memory
    std::uint64_t tail = 0;       // the consumer's tail, as last read and checked
    std::size_t reserved_at = 0;
    std::size_t reserved = 0;
    bool has_reservation = false;
    std::uint64_t sleep_episode = 0;
    std::uint64_t last_data_bell = 0;
    spin_state spinning;
    std::error_code failure;
  };

  struct reader_state {
    std::uint64_t tail = 0;  // bytes consumed, ever
    std::uint64_t head = 0;  // the producer's head, as last read and checked
    std::size_t at = 0;      // the current record: its offset, payload length, size
    std::size_t length = 0;
    std::size_t record = 0;
    std::size_t partial = 0;  // of its payload, bytes already read by read_bytes
    bool holding = false;
    bool peer_gone = false;
    std::uint64_t sleep_episode = 0;
    std::uint64_t last_space_bell = 0;
    spin_state spinning;
    std::error_code failure;
  };

  shm_role role_ = shm_role::creator;
  unique_fd socket_;
  unique_fd data_bell_;   // producer rings it for the peer's consumer; our consumer sleeps on it
  unique_fd space_bell_;  // consumer rings it for the peer's producer; our producer sleeps on it
  detail::shm_mapping mapping_;
  std::size_t ring_size_ = 0;
  std::size_t mask_ = 0;
  std::size_t max_payload_ = 0;
  std::size_t publish_batch_ = 0;  // batched commits publish once this many bytes wait
  std::chrono::nanoseconds spin_{0};
  std::byte* out_ring_ = nullptr;
  std::byte* in_ring_ = nullptr;
  std::uint64_t* out_head_ = nullptr;
  std::uint64_t* out_tail_ = nullptr;
  std::uint64_t* out_data_waiting_ = nullptr;
  std::uint64_t* out_space_waiting_ = nullptr;
  std::uint64_t* in_head_ = nullptr;
  std::uint64_t* in_tail_ = nullptr;
  std::uint64_t* in_data_waiting_ = nullptr;
  std::uint64_t* in_space_waiting_ = nullptr;
  std::uint64_t* own_cpu_ = nullptr;   // this end's CPU word (see shares_cpu_with_peer)
  std::uint64_t* peer_cpu_ = nullptr;  // the peer's
  // The two sides' states on their own cache lines: a sending and a receiving thread.
  alignas(64) writer_state w_;
  alignas(64) reader_state r_;
};

}  // namespace sockpair
