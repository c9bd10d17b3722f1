// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Length-prefixed frames over a byte stream: `frame_writer` batches many small frames into few
// large writes, `frame_reader` pulls large chunks and hands out each frame in place.
//
//   auto [a, b] = std::move(sockpair::socket_pair<sockpair::stream>::create()).value();
//   sockpair::frame_writer out(a);
//   sockpair::frame_reader in(b);
//   if (auto r = out.write(payload); !r) ...   // buffered
//   if (auto r = out.flush(); !r) ...          // on the wire
//   auto frame = in.read();  // result<optional<span>>: a frame, or nullopt at a clean end
//
// Wire format: each frame is a 4-byte little-endian unsigned length, then that many payload
// bytes. An empty frame (length 0) is valid. Nothing else is sent: no handshake, no trailer.
// See docs/framing.md.
#pragma once

#include <socketpair/deadline.hpp>
#include <socketpair/detail/byte_buffer.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/detail/progress.hpp>
#include <socketpair/detail/readiness.hpp>
#include <socketpair/detail/sizes.hpp>
#include <socketpair/detail/syscall.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>

#include <poll.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

namespace sockpair {

// ---- Wire format ----------------------------------------------------------------------------

/// Bytes in a frame's length prefix (a little-endian uint32).
inline constexpr std::size_t frame_header_size = 4;

/// The largest frame the wire format can describe: 2^32 - 1 bytes.
inline constexpr std::size_t max_frame_size_limit = 0xFFFF'FFFFU;

/// The default largest frame a reader accepts and a writer sends: 1 MiB.
inline constexpr std::size_t default_max_frame_size = std::size_t{1} << 20;

// ---- What frames travel over ----------------------------------------------------------------

namespace detail {
template <class S>
concept message_socket = requires {
  requires S::type::message_oriented;
};
}  // namespace detail

/// A byte stream the framing runs over: `send` writes some bytes (at least one, or fails) and
/// `receive` reads some (0 only at end of stream), both `noexcept` and returning
/// `result<std::size_t>`. A non-blocking stream fails with `std::errc::operation_would_block`.
/// `socket<stream>` is one; `fd_stream` adapts any other descriptor (a pipe, say). Message
/// sockets are excluded: their `receive` drops what does not fit.
template <class S>
concept byte_stream = requires(S& s, std::span<const std::byte> out, std::span<std::byte> in) {
  { s.send(out) }
  noexcept->std::same_as<result<std::size_t>>;
  { s.receive(in) }
  noexcept->std::same_as<result<std::size_t>>;
}
&&!detail::message_socket<S>;

/// A byte stream whose `send` and `receive` also take a `deadline`: each call then waits at
/// most until it (`std::errc::timed_out`). Both `socket<stream>` and `fd_stream` are; the
/// framing calls that take a deadline need one.
template <class S>
concept timed_byte_stream = byte_stream<S> &&
    requires(S& s, std::span<const std::byte> out, std::span<std::byte> in, deadline until) {
  { s.send(out, until) }
  noexcept->std::same_as<result<std::size_t>>;
  { s.receive(in, until) }
  noexcept->std::same_as<result<std::size_t>>;
};

/// A byte stream over a descriptor it does not own, with read(2) and write(2): a pipe end, a
/// FIFO, a terminal, or a stream socket the library did not make. Interrupted calls are
/// restarted. Its calls are `const`: it is a view, and does not own what it writes to.
/// Unlike `socket`, writing to a pipe whose reader is gone raises SIGPIPE unless the
/// process ignores or blocks it (pipes have no MSG_NOSIGNAL); the error is then EPIPE.
class fd_stream {
 public:
  /// Borrows `fd`, which must outlive this object.
  explicit fd_stream(int fd) noexcept : fd_(fd) {}

  /// The borrowed descriptor.
  [[nodiscard]] int native_handle() const noexcept { return fd_; }

  /// One write(2); the count may be short. With a deadline, poll(2) first waits until the
  /// descriptor is writable or `until` passes (`std::errc::timed_out`), and the write is cut to
  /// PIPE_BUF bytes, which a writable pipe takes without blocking (on other descriptors a
  /// write after poll(2) may still wait; a `socket` never does).
  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data,
                                         deadline until = deadline::never()) const noexcept {
    if (!until.is_never()) {
      auto ready = detail::wait_until(fd_, POLLOUT, until.at());
      if (!ready) {
        return ready.assume_error();
      }
      if (!ready.assume_value()) {
        return detail::deadline_passed_error();
      }
      data = data.first(detail::smaller_of(data.size(), std::size_t{PIPE_BUF}));
    }
    const ssize_t n =
        detail::retry_on_eintr([&] { return ::write(fd_, data.data(), data.size()); });
    if (n < 0) {
      return last_errno_code();
    }
    return static_cast<std::size_t>(n);
  }

  /// Gather: one writev(2) of the buffers in order (the first IOV_MAX of them); the count
  /// may be short.
  [[nodiscard]] result<std::size_t> send(
      std::span<const std::span<const std::byte>> buffers) const noexcept {
    detail::io_vector parts;
    if (!parts.assign(buffers, 0, detail::max_iov)) {
      return errno_code(ENOMEM);
    }
    const ssize_t n = detail::retry_on_eintr(
        [&] { return ::writev(fd_, parts.data(), static_cast<int>(parts.size())); });
    if (n < 0) {
      return last_errno_code();
    }
    return static_cast<std::size_t>(n);
  }

  /// One read(2); the count may be short, and 0 means end of stream. With a deadline, poll(2)
  /// first waits until the descriptor is readable or `until` passes (`std::errc::timed_out`).
  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer,
                                            deadline until = deadline::never()) const noexcept {
    if (!until.is_never()) {
      auto ready = detail::wait_until(fd_, POLLIN, until.at());
      if (!ready) {
        return ready.assume_error();
      }
      if (!ready.assume_value()) {
        return detail::deadline_passed_error();
      }
    }
    const ssize_t n =
        detail::retry_on_eintr([&] { return ::read(fd_, buffer.data(), buffer.size()); });
    if (n < 0) {
      return last_errno_code();
    }
    return static_cast<std::size_t>(n);
  }

 private:
  int fd_;
};

namespace detail {

// A stream with a gathered send (`socket<stream>`, `fd_stream`): a writer then sends its
// buffer and a large frame together, without first copying the frame.
template <class S>
concept gathering_stream = requires(S& s, std::span<const std::span<const std::byte>> parts) {
  { s.send(parts) }
  noexcept->std::same_as<result<std::size_t>>;
};

inline void store_frame_length(std::byte* out, std::size_t length) noexcept {
  const auto value = static_cast<std::uint32_t>(length);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &value, frame_header_size);  // one store
  } else {
    for (std::size_t i = 0; i < frame_header_size; ++i) {
      out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFFU);
    }
  }
}

[[nodiscard]] inline std::size_t load_frame_length(const std::byte* in) noexcept {
  std::uint32_t length = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&length, in, frame_header_size);  // one load
  } else {
    for (std::size_t i = 0; i < frame_header_size; ++i) {
      length |= static_cast<std::uint32_t>(in[i]) << (8 * i);
    }
  }
  return length;
}

}  // namespace detail

// ---- Writing --------------------------------------------------------------------------------

/// How a `frame_writer` buffers.
struct frame_writer_options {
  /// `write()` sends everything buffered as soon as the buffer reaches this many bytes; below
  /// it, frames wait for a later `write()` or `flush()`. 0 sends every frame at once.
  std::size_t flush_threshold = std::size_t{64} * 1024;
  /// The largest frame `write()` accepts (at most `max_frame_size_limit`); keep it no larger
  /// than the reader's limit.
  std::size_t max_frame_size = default_max_frame_size;
};

/// Writes frames to a byte stream it borrows, batching them into few large writes.
///
/// `write()` appends a frame to a reusable buffer and, once the buffer reaches
/// `flush_threshold`, sends the buffer (a frame that takes it past the threshold goes out in
/// the same gathered write, without being copied, on `socket<stream>` and `fd_stream`).
/// `flush()` sends what is buffered. Frames go out whole and in order.
///
/// Non-blocking streams: when the stream would block, the unsent bytes stay buffered, exactly
/// those and no others, and a later `flush()` or `write()` resumes where the stream stopped.
/// The buffer never holds more than `flush_threshold + frame_header_size + max_frame_size`
/// bytes: a `write()` that finds `flush_threshold` bytes still unsent refuses the new frame
/// with the stream's error (`operation_would_block`) until they have gone.
///
/// Memory: the buffer grows from what is pending, never from the threshold: it starts at
/// `initial_capacity` bytes (or one frame and its prefix, if larger) and at least doubles each
/// time it must grow, up to that bound. So a large threshold costs nothing until frames fill
/// it, and `SIZE_MAX` (only `flush()` and a full stream send) holds n frames with O(log n)
/// allocations. Destroying a writer discards what it has not sent: call `flush()` first. After
/// the steady state is reached (the buffer has grown to its working size) no call allocates.
template <byte_stream Stream>
class frame_writer {
 public:
  /// The first buffer's size, unless the first frame needs more.
  static constexpr std::size_t initial_capacity = 1024;

  /// Borrows `stream`, which must outlive the writer. Allocates nothing until the first write.
  explicit frame_writer(Stream& stream, frame_writer_options options = {}) noexcept
      : stream_(&stream), options_(options) {
    options_.max_frame_size = detail::smaller_of(options_.max_frame_size, max_frame_size_limit);
  }

  /// A moved-from writer holds nothing and may only be destroyed or assigned to.
  frame_writer(frame_writer&& other) noexcept
      : stream_(other.stream_),
        options_(other.options_),
        buffer_(std::move(other.buffer_)),
        begin_(std::exchange(other.begin_, 0)),
        end_(std::exchange(other.end_, 0)) {}
  frame_writer& operator=(frame_writer&& other) noexcept {
    stream_ = other.stream_;
    options_ = other.options_;
    buffer_ = std::move(other.buffer_);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
    return *this;
  }
  frame_writer(const frame_writer&) = delete;
  frame_writer& operator=(const frame_writer&) = delete;
  ~frame_writer() = default;

  /// Queues `frame` (copied, or sent at once; the caller may reuse it when this returns).
  ///
  /// Success means the frame is accepted: it goes out, after every frame accepted before it, in
  /// this call or a later `write()`/`flush()`. An error from the write this frame triggered is
  /// not reported here: the unsent bytes stay buffered and the next call meets the error again.
  /// Failure means nothing of `frame` was sent or kept:
  /// - `errc::frame_too_large`: `frame` is larger than `max_frame_size`;
  /// - the stream's error (`operation_would_block`, EPIPE, ...) while sending a backlog of
  ///   `flush_threshold` bytes or more left by earlier calls;
  /// - ENOMEM when the buffer could not grow.
  [[nodiscard]] result<void> write(std::span<const std::byte> frame) noexcept {
    return write_then(
        frame, [this] { return flush(); },
        [this](std::span<const std::byte> rest) { send_with(rest); });
  }

  /// As `write(frame)`, waiting at most until `until` for the stream: a backlog that must go
  /// first and does not by then fails the call with `std::errc::timed_out` (nothing of `frame`
  /// kept); the frame's own send stops at the deadline, what it did not send staying buffered
  /// (the frame is accepted). The frame is copied into the buffer rather than gathered.
  [[nodiscard]] result<void> write(std::span<const std::byte> frame,
                                   deadline until) noexcept requires timed_byte_stream<Stream> {
    return write_then(
        frame, [this, until] { return flush(until); },
        [this, until](std::span<const std::byte> rest) {
          append(rest);
          static_cast<void>(flush(until));  // what the deadline left stays buffered
        });
  }

  /// Sends every buffered byte. On failure (`operation_would_block` on a non-blocking stream,
  /// or the stream's error) the bytes not sent stay buffered and `pending_bytes()` counts
  /// them; calling `flush()` again resumes without repeating or skipping a byte.
  [[nodiscard]] result<void> flush() noexcept {
    return flush_by([this](std::span<const std::byte> bytes) { return stream_->send(bytes); });
  }

  /// As `flush()`, stopping when `until` passes (`std::errc::timed_out`): the bytes not sent
  /// stay buffered, and a later `flush` resumes with them.
  [[nodiscard]] result<void> flush(deadline until) noexcept requires timed_byte_stream<Stream> {
    return flush_by(
        [this, until](std::span<const std::byte> bytes) { return stream_->send(bytes, until); });
  }

  /// Bytes accepted but not yet sent (length prefixes included).
  [[nodiscard]] std::size_t pending_bytes() const noexcept { return end_ - begin_; }

  /// The options in force (`max_frame_size` clamped to `max_frame_size_limit`).
  [[nodiscard]] const frame_writer_options& options() const noexcept { return options_; }

 private:
  // `write`: `flush_first()` when the backlog has reached the threshold, then the frame's
  // prefix, then the frame appended or handed to `send_frame`.
  template <class Flush, class SendFrame>
  [[nodiscard]] result<void> write_then(std::span<const std::byte> frame, Flush flush_first,
                                        SendFrame send_frame) noexcept {
    if (frame.size() > options_.max_frame_size) {
      return make_error_code(errc::frame_too_large);
    }
    if (pending_bytes() >= options_.flush_threshold && pending_bytes() > 0) {
      if (auto flushed = flush_first(); !flushed) {
        return flushed.assume_error();
      }
    }
    if (auto room = reserve(detail::saturating_add(frame_header_size, frame.size())); !room) {
      return room.assume_error();
    }
    detail::store_frame_length(buffer_.data() + end_, frame.size());
    end_ += frame_header_size;
    if (pending_bytes() + frame.size() < options_.flush_threshold) {
      append(frame);
      return success();
    }
    send_frame(frame);
    return success();
  }

  // `flush`: `send` (one call of the stream's) until nothing is pending.
  template <class Send>
  [[nodiscard]] result<void> flush_by(Send send) noexcept {
    while (begin_ < end_) {
      auto sent = send(std::span<const std::byte>(buffer_.data() + begin_, end_ - begin_));
      if (!sent) {
        return sent.assume_error();
      }
      if (sent.assume_value() == 0) {
        return errno_code(EIO);  // a stream that breaks its contract
      }
      begin_ += sent.assume_value();
    }
    begin_ = end_ = 0;
    return success();
  }

  // Makes room for `extra` more bytes after the pending ones.
  [[nodiscard]] result<void> reserve(std::size_t extra) noexcept {
    const std::size_t pending = pending_bytes();
    if (buffer_.capacity() - end_ >= extra) {
      return success();
    }
    if (begin_ > 0 && pending > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, pending);
    }
    begin_ = 0;
    end_ = pending;
    if (buffer_.capacity() - pending >= extra) {
      return success();
    }
    // Grows from need, geometrically: at least double (so n frames cost O(log n) allocations),
    // but never past what the writer can hold at once. Every sum saturates: a threshold of
    // SIZE_MAX is a bound no buffer reaches, not a small number after wrapping.
    const std::size_t needed = detail::saturating_add(pending, extra);
    const std::size_t bound =
        detail::saturating_add(detail::saturating_add(options_.flush_threshold, frame_header_size),
                               options_.max_frame_size);
    const std::size_t doubled = detail::saturating_add(buffer_.capacity(), buffer_.capacity());
    std::size_t capacity = detail::larger_of(doubled, initial_capacity);
    capacity = detail::larger_of(detail::smaller_of(capacity, bound), needed);
    return buffer_.reallocate(capacity, pending);
  }

  void append(std::span<const std::byte> bytes) noexcept {
    if (!bytes.empty()) {
      std::memcpy(buffer_.data() + end_, bytes.data(), bytes.size());
      end_ += bytes.size();
    }
  }

  // Sends the pending bytes and then `frame` (whose room is reserved), keeping in the buffer
  // whatever the stream did not take. Errors stay with the stream; the next call sees them.
  void send_with(std::span<const std::byte> frame) noexcept {
    if constexpr (detail::gathering_stream<Stream>) {
      std::size_t frame_sent = 0;
      while (begin_ < end_ || frame_sent < frame.size()) {
        const std::span<const std::byte> head(buffer_.data() + begin_, end_ - begin_);
        const std::array<std::span<const std::byte>, 2> parts = {head, frame.subspan(frame_sent)};
        auto sent = stream_->send(std::span<const std::span<const std::byte>>(parts));
        if (!sent || sent.assume_value() == 0) {
          break;
        }
        const std::size_t from_head = detail::smaller_of(sent.assume_value(), head.size());
        begin_ += from_head;
        frame_sent += sent.assume_value() - from_head;
      }
      if (begin_ == end_) {
        begin_ = end_ = 0;
      }
      append(frame.subspan(frame_sent));
    } else {
      append(frame);
      static_cast<void>(flush());
    }
  }

  Stream* stream_;
  frame_writer_options options_;
  detail::byte_buffer buffer_;
  std::size_t begin_ = 0;  // first byte not yet sent
  std::size_t end_ = 0;    // one past the last byte accepted
};

// ---- Reading --------------------------------------------------------------------------------

/// How a `frame_reader` reads.
struct frame_reader_options {
  /// The largest frame accepted (at most `max_frame_size_limit`). A longer length prefix is
  /// `errc::frame_too_large` as soon as its 4 bytes arrive; the buffer never grows for it.
  std::size_t max_frame_size = default_max_frame_size;
  /// The buffer's starting size, and so the most one read from the stream asks for
  /// (at least 1). Larger means fewer system calls per frame when frames are small.
  std::size_t read_size = std::size_t{64} * 1024;
};

/// Reads frames from a byte stream it borrows, pulling as much as the buffer holds per read
/// and handing out each frame in place.
///
/// Frame boundaries do not depend on how the stream's reads split the bytes. Memory: the
/// buffer starts at `read_size` bytes and grows only to hold one whole frame, never beyond
/// `max(read_size, frame_header_size + max_frame_size)` bytes, whatever the peer sends. After
/// the first call (and the growth the largest frame needs) no call allocates.
///
/// States after a failure: every frame delivered before it was delivered exactly once, and
/// nothing received is discarded (`buffered_bytes()` counts what waits).
/// - The stream's errors (`operation_would_block` on a non-blocking stream, ...): nothing is
///   consumed; call `read()` again to resume.
/// - ENOMEM (the buffer could not grow): nothing changes; `read()` may be called again.
/// - `errc::frame_too_large`: the offending prefix stays unconsumed and every later `read()`
///   fails the same way without reading. The stream cannot be resynchronised.
/// - `errc::unexpected_eof` (the stream ended inside a length prefix or a payload): every later
///   `read()` fails the same way.
/// - `errc::descriptors_discarded` (the peer attached descriptors to the stream's bytes; they
///   were closed, and the stream's count of the bytes that came with them is lost): every
///   later `read()` fails the same way. The stream cannot be resynchronised.
template <byte_stream Stream>
class frame_reader {
 public:
  /// Borrows `stream`, which must outlive the reader. Allocates nothing until the first read.
  explicit frame_reader(Stream& stream, frame_reader_options options = {}) noexcept
      : stream_(&stream), options_(options) {
    options_.max_frame_size = detail::smaller_of(options_.max_frame_size, max_frame_size_limit);
    options_.read_size = detail::larger_of(options_.read_size, 1);
  }

  /// A moved-from reader holds nothing and may only be destroyed or assigned to. Spans
  /// handed out before the move stay valid (the buffer moves with the reader).
  frame_reader(frame_reader&& other) noexcept
      : stream_(other.stream_),
        options_(other.options_),
        buffer_(std::move(other.buffer_)),
        begin_(std::exchange(other.begin_, 0)),
        end_(std::exchange(other.end_, 0)),
        state_(std::exchange(other.state_, state::open)) {}
  frame_reader& operator=(frame_reader&& other) noexcept {
    stream_ = other.stream_;
    options_ = other.options_;
    buffer_ = std::move(other.buffer_);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
    state_ = std::exchange(other.state_, state::open);
    return *this;
  }
  frame_reader(const frame_reader&) = delete;
  frame_reader& operator=(const frame_reader&) = delete;
  ~frame_reader() = default;

  /// The next frame's payload, reading from the stream only when no whole frame is buffered;
  /// `std::nullopt` when the stream ended cleanly between two frames (and at every call after).
  ///
  /// The span points into the reader's buffer (the payload is not copied again) and stays
  /// valid until the next call to `read()` or the reader's destruction.
  [[nodiscard]] result<std::optional<std::span<const std::byte>>> read() noexcept {
    return read_by([this](std::span<std::byte> into) { return stream_->receive(into); });
  }

  /// As `read()`, waiting at most until `until` for the stream (`std::errc::timed_out`): the
  /// bytes of a frame that has not all arrived by then stay buffered, and a later `read`
  /// completes it.
  [[nodiscard]] result<std::optional<std::span<const std::byte>>> read(
      deadline until) noexcept requires timed_byte_stream<Stream> {
    return read_by(
        [this, until](std::span<std::byte> into) { return stream_->receive(into, until); });
  }

  /// Bytes received but not yet handed out (a partial frame, or whole frames not yet read).
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return end_ - begin_; }

  /// The options in force (`max_frame_size` clamped, `read_size` at least 1).
  [[nodiscard]] const frame_reader_options& options() const noexcept { return options_; }

 private:
  enum class state : unsigned char { open, ended, too_large, broken };

  // `read`: `receive` (one call of the stream's) until a whole frame is buffered.
  template <class Receive>
  [[nodiscard]] result<std::optional<std::span<const std::byte>>> read_by(
      Receive receive) noexcept {
    if (state_ == state::too_large) {
      return make_error_code(errc::frame_too_large);
    }
    if (state_ == state::broken) {
      return make_error_code(errc::descriptors_discarded);
    }
    for (;;) {
      const std::size_t buffered = buffered_bytes();
      std::size_t needed = frame_header_size;
      if (buffered >= frame_header_size) {
        const std::size_t length = detail::load_frame_length(buffer_.data() + begin_);
        if (length > options_.max_frame_size) {
          state_ = state::too_large;
          return make_error_code(errc::frame_too_large);
        }
        needed = detail::saturating_add(needed, length);  // a 32-bit size_t could wrap
        if (buffered >= needed) {
          const std::span<const std::byte> frame(buffer_.data() + begin_ + frame_header_size,
                                                 length);
          begin_ += needed;
          return std::optional<std::span<const std::byte>>(frame);
        }
      }
      if (state_ == state::ended) {
        if (buffered == 0) {
          return std::optional<std::span<const std::byte>>();
        }
        return make_error_code(errc::unexpected_eof);
      }
      if (auto room = make_room(needed); !room) {
        return room.assume_error();
      }
      auto got = receive(std::span<std::byte>(buffer_.data() + end_, buffer_.capacity() - end_));
      if (!got) {
        if (got.assume_error() == errc::descriptors_discarded) {
          state_ = state::broken;
        }
        return got.assume_error();
      }
      if (got.assume_value() == 0) {
        state_ = state::ended;
      }
      end_ += got.assume_value();
    }
  }

  // Makes sure the frame being assembled (`needed` bytes from `begin_`) fits in the buffer,
  // and that there is room to read into. Moves the partial frame to the front only when it
  // would not fit, or when it is small and the free tail has shrunk to a quarter.
  [[nodiscard]] result<void> make_room(std::size_t needed) noexcept {
    const std::size_t buffered = buffered_bytes();
    if (buffered == 0) {
      begin_ = end_ = 0;
    }
    const std::size_t capacity = buffer_.capacity();
    if (capacity < needed || capacity == 0) {
      const std::size_t bound = detail::larger_of(
          options_.read_size, detail::saturating_add(frame_header_size, options_.max_frame_size));
      std::size_t grown =
          capacity == 0 ? options_.read_size : detail::saturating_add(capacity, capacity);
      grown = detail::larger_of(detail::smaller_of(grown, bound), needed);
      if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, buffered);
        begin_ = 0;
        end_ = buffered;
      }
      return buffer_.reallocate(grown, buffered);
    }
    const bool fits = capacity - begin_ >= needed;
    const bool tail_short = capacity - end_ < capacity / 4 && buffered <= capacity / 4;
    if (begin_ > 0 && (!fits || tail_short)) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, buffered);
      begin_ = 0;
      end_ = buffered;
    }
    return success();
  }

  Stream* stream_;
  frame_reader_options options_;
  detail::byte_buffer buffer_;
  std::size_t begin_ = 0;  // first byte not yet handed out
  std::size_t end_ = 0;    // one past the last byte received
  state state_ = state::open;
};

}  // namespace sockpair
