// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::socket<Type, Domain>`: one end of a pair, owning its descriptor, and its I/O.
//
// Each call is one system call, blocking or not as the descriptor is, except where its
// comment says otherwise (`send_all` and `receive_exact` loop; `receive_message` peeks first).
// docs/io.md has the whole contract in one table; the rules that hold everywhere:
//
// - EINTR never reaches the caller of a blocking call: the library restarts it (and a wait
//   restarts with the time that is left).
// - SIGPIPE is never raised: writing to a pair whose peer is gone fails with EPIPE
//   (MSG_NOSIGNAL), and no signal disposition is touched.
// - On a non-blocking socket, or when a send/receive timeout expires, a call that would block
//   fails with an error equal to std::errc::operation_would_block (EAGAIN).
#pragma once

#include <socketpair/byte_range.hpp>
#include <socketpair/deadline.hpp>
#include <socketpair/detail/chrono.hpp>
#include <socketpair/detail/config.hpp>
#include <socketpair/detail/io.hpp>
#include <socketpair/detail/options.hpp>
#include <socketpair/detail/progress.hpp>
#include <socketpair/detail/readiness.hpp>
#include <socketpair/detail/tipc.hpp>
#include <socketpair/error.hpp>
#include <socketpair/result.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/transfer.hpp>
#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace sockpair {

template <socket_type Type, socket_domain Domain>
requires pairable<Domain, Type>
class socket_pair;

/// Which direction(s) `socket::shutdown()` closes.
enum class shutdown_how { read = SHUT_RD, write = SHUT_WR, both = SHUT_RDWR };

/// The most buffers one scatter/gather call passes to the kernel: IOV_MAX (1024 on Linux).
/// A stream call given more moves the first `max_io_buffers` (a short count, which
/// `send_all`/`receive_exact` continue past); a message call given more fails up front
/// with EMSGSIZE (std::errc::message_size) and moves nothing.
inline constexpr std::size_t max_io_buffers = detail::max_iov;

/// What `receive_message()` and `peek()` learn about one message.
struct message_info {
  /// Bytes of the message now in the buffer: the whole message unless it was truncated.
  std::size_t stored = 0;
  /// The message's real size (0 for an empty message). On Linux exact even when the
  /// buffer was too small; elsewhere only a lower bound then.
  std::size_t size = 0;
  /// No message: the stream has ended (seqpacket: the peer shut down its writing side or
  /// closed, and every message it sent has been received; any message type: this end shut
  /// down its reading side). Never true for a message that exists, empty or not.
  bool end_of_stream = false;

  /// The message carried descriptors and they were closed: the peer sent descriptors to a
  /// call that takes none (receive them with `receive_with_fds`). Never true for a peek,
  /// which leaves them queued with the message.
  bool descriptors_discarded = false;

  /// The message did not fit: only `stored` of its `size` bytes were kept.
  [[nodiscard]] constexpr bool truncated() const noexcept { return size > stored; }
};

/// What `wait_readable()` / `wait_writable()` found.
enum class readiness {
  /// The call would not block now (it may still fail: EOF, a dead peer, an error).
  ready,
  /// The timeout passed first.
  timed_out,
};

/// One connected end of a socket pair. Move-only; a moved-from socket is empty.
///
/// `Type` and `Domain` are fixed at compile time, so a function that takes a
/// `socket<seqpacket>&` cannot be handed a stream by mistake.
template <socket_type Type, socket_domain Domain = unix_domain>
requires pairable<Domain, Type>
class socket {
 public:
  using type = Type;
  using domain = Domain;

  /// An empty socket (owns no descriptor).
  socket() noexcept = default;

  socket(socket&&) noexcept = default;
  socket& operator=(socket&&) noexcept = default;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  ~socket() = default;

  /// Takes ownership of a descriptor made elsewhere (inherited across exec, received over
  /// another socket, ...) after checking that it is a connected end of a `Type` socket of
  /// `Domain`: SO_TYPE and SO_DOMAIN, not listening (SO_ACCEPTCONN), and on AF_UNIX with a
  /// peer (getpeername(2)).
  ///
  /// On success `fd` is moved from: the socket owns the descriptor. On failure `fd` is left
  /// as it was, still owning the descriptor, so the caller may try another type (from a
  /// temporary, `adopt(unique_fd(raw))`, it is closed at the end of the statement).
  /// Errors: `errc::wrong_socket_kind` for no socket at all, another type or domain, or a
  /// listening socket; `std::errc::not_connected` for an AF_UNIX socket with no peer; EBADF
  /// for an empty or closed `fd`; getsockopt(2)'s other errors unchanged.
  [[nodiscard]] static result<socket> adopt(unique_fd&& fd) noexcept {
    auto kind = detail::check_socket_kind(fd.get(), Type::value, Domain::value);
    if (!kind) {
      return kind.assume_error();
    }
    // (TIPC's dgram and rdm pairs have no peer that getpeername(2) reports.)
    auto end = detail::check_connected_end(fd.get(), std::same_as<Domain, unix_domain>);
    if (!end) {
      return end.assume_error();
    }
    if (auto quiet = detail::suppress_sigpipe(fd.get()); !quiet) {  // SO_NOSIGPIPE, macOS < 11
      return quiet.assume_error();
    }
    return socket(std::move(fd));
  }

  /// The descriptor, still owned by this socket; -1 when empty.
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

  /// The owner of the descriptor, for code that works on `unique_fd`.
  [[nodiscard]] const unique_fd& fd() const noexcept { return fd_; }

  /// True when the socket owns a descriptor.
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

  /// Gives up ownership: the caller (or the library it hands the descriptor to) now owns it.
  [[nodiscard]] int release() noexcept { return fd_.release(); }

  /// Closes the descriptor now and reports close(2)'s error; see `unique_fd::close()`.
  [[nodiscard]] result<void> close() noexcept { return fd_.close(); }

  /// A second socket for the same end (F_DUPFD_CLOEXEC; see `unique_fd::try_clone`): what one
  /// sends, the peer receives alike; options and O_NONBLOCK are shared (one open file); the
  /// peer sees this end closed only when the last of them is closed. Errors: EBADF for an
  /// empty socket, EMFILE when the process has no free descriptor number.
  [[nodiscard]] result<socket> try_clone() const noexcept {
    auto copy = fd_.try_clone();
    if (!copy) {
      return copy.assume_error();
    }
    return socket(std::move(copy.assume_value()));
  }

  /// Reads and clears the socket's pending error (SO_ERROR): nothing when there is none,
  /// otherwise the errno in std::system_category() (on AF_UNIX, e.g. ECONNRESET after the peer
  /// closed with bytes unread). The next call that would have failed with it no longer does.
  /// Errors of the call itself: EBADF for an empty socket.
  [[nodiscard]] result<std::optional<std::error_code>> take_error() noexcept {
    return detail::take_socket_error(native_handle());
  }

  // ---- Sending ------------------------------------------------------------------------------

  /// One send(2). On a stream, the count may be short (see `send_all`). On a message socket,
  /// `data` is one whole message: it is sent entirely or not at all (EMSGSIZE past the limit).
  /// With a deadline, the send does not block: while there is no room it waits in poll(2)
  /// until `until`, then fails with `std::errc::timed_out` (the socket's SO_SNDTIMEO plays no
  /// part); a deadline already passed sends only what fits now.
  [[nodiscard]] result<std::size_t> send(std::span<const std::byte> data,
                                         deadline until = deadline::never()) noexcept {
    if (!until.is_never()) [[unlikely]] {
      return detail::once_until(native_handle(), POLLOUT, until.at(), [&](int flags) {
        return detail::send_some(native_handle(), data, flags);
      });
    }
    return detail::send_some(native_handle(), data);
  }

  /// `send` of any byte range (std::string, std::vector<char>, ...), in place.
  template <byte_range R>
  [[nodiscard]] result<std::size_t> send(const R& data,
                                         deadline until = deadline::never()) noexcept {
    return send(bytes_of(data), until);
  }

  /// Gather: one sendmsg(2) of the buffers in order. Stream: the count may be short, and
  /// only the first `max_io_buffers` buffers are offered to the kernel. Message socket: the
  /// buffers form one message, sent whole or not at all; more than `max_io_buffers` buffers
  /// fail with EMSGSIZE before anything is sent.
  [[nodiscard]] result<std::size_t> send(
      std::span<const std::span<const std::byte>> buffers) noexcept {
    return detail::send_gather(native_handle(), buffers, 0, Type::message_oriented);
  }

  /// Stream: sends the bytes of `out` not yet sent until all of them have gone, or `until`
  /// passes. `out.done()` counts exactly the bytes sent, on failure too, and calling again with
  /// the same `out` resumes after them (a complete transfer sends nothing more). Returns
  /// `out.size()`.
  ///
  /// With no deadline each send(2) blocks as the socket does: a non-blocking socket fails with
  /// `std::errc::operation_would_block` when its buffer is full (the non-blocking core an event
  /// loop drives: wait until writable, call again), a blocking one waits (each send bounded by
  /// SO_SNDTIMEO, if set). With a deadline the sends never block: the call waits in poll(2) for
  /// room until `until` and then fails with `std::errc::timed_out`, however the peer paces its
  /// reads. Other errors: the socket's (EPIPE once the peer is gone, ...).
  //
  // With no deadline: one send(2) inline, made directly (detail/sys.hpp), and when it does not
  // finish the transfer, the loop out of line (`send_all_rest`). A 64-byte send_all then costs
  // fewer instructions than a hand-written send(2) loop through libc
  // (//benchmarks:instruction_parity_test pins it).
  [[nodiscard, gnu::always_inline]] result<std::size_t> send_all(
      outgoing& out, deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    std::size_t& done = detail::transfer_access::done(out);
    const std::span<const std::byte> data = out.bytes();
    if (!until.is_never()) [[unlikely]] {
      return detail::transfer_until(native_handle(), POLLOUT, until.at(), data.size(), done,
                                    detail::io_error(), [&](std::size_t skip, int flags) {
                                      return detail::send_some(native_handle(), data.subspan(skip),
                                                               flags);
                                    });
    }
    const std::size_t left = data.size() - done;
    if (left != 0) [[likely]] {
      // The common case sends the rest in one call; a short count, a failure or a signal goes
      // on out of line (a negative count, cast, is never `left`).
      const long n =
          detail::sys::send(native_handle(), data.data() + done, left, detail::no_sigpipe);
      if (static_cast<std::size_t>(n) != left) [[unlikely]] {
        return send_all_rest(out, n);
      }
      done = data.size();
    }
    return data.size();
  }

  /// Stream: sends all of `data` (any byte range, in place), as the `outgoing` form; on
  /// failure how much went out is not kept: use an `outgoing` where a retry must resume.
  template <byte_range R>
  [[nodiscard, gnu::always_inline]] result<std::size_t> send_all(
      const R& data, deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    outgoing out(data);
    return send_all(out, until);
  }

  /// Stream, gather: sends every byte of every buffer of `out`, in order, as the single-buffer
  /// form (resumable, the same deadline). Only the first `max_io_buffers` buffers not yet sent
  /// are offered to each sendmsg(2). Returns `out.size()`.
  [[nodiscard]] result<std::size_t> send_all(outgoing_buffers& out,
                                             deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    std::size_t& done = detail::transfer_access::done(out);
    auto one = [&](std::size_t skip, int flags) {
      return detail::send_gather(native_handle(), out.bytes(), skip, false, flags);
    };
    // A send that moves nothing with bytes left cannot happen; were it to, EIO, not a spin.
    if (!until.is_never()) [[unlikely]] {
      return detail::transfer_until(native_handle(), POLLOUT, until.at(), out.size(), done,
                                    detail::io_error(), one);
    }
    return detail::transfer_all(out.size(), done, detail::io_error(), one);
  }

  /// Stream, gather: sends every byte of every buffer; see the `outgoing_buffers` form.
  [[nodiscard]] result<std::size_t> send_all(std::span<const std::span<const std::byte>> buffers,
                                             deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    outgoing_buffers out(buffers);
    return send_all(out, until);
  }

  /// Refused: progress lives in a transfer (`sockpair::outgoing`) bound to its bytes. A counter
  /// beside the buffer let one message's progress skip bytes of the next. (The comment on the
  /// declaration is what a compiler prints; hence no clang-format.)
  // clang-format off
  template <class R>
  result<std::size_t> send_all(const R&, std::size_t&) = delete;  // sockpair: progress lives in a transfer (sockpair::outgoing), not in a counter beside the buffer
  // clang-format on

  // ---- Receiving ----------------------------------------------------------------------------

  /// Stream: one recvmsg(2); the count may be short, and 0 means the peer shut down its
  /// writing side (orderly EOF). An empty `buffer` fails with EINVAL
  /// (std::errc::invalid_argument) and consumes nothing: its 0 would be indistinguishable
  /// from the end of the stream. Descriptors the peer attached to these bytes are closed and
  /// the call fails with `errc::descriptors_discarded`; the bytes are in `buffer`, but their
  /// count is not reported, so treat the stream as broken (a peer that sends descriptors
  /// where the protocol has none).
  ///
  /// With a deadline the receive does not block: while nothing is queued it waits in poll(2)
  /// until `until`, then fails with `std::errc::timed_out` (SO_RCVTIMEO plays no part); a
  /// deadline already passed takes only what is queued now.
  [[nodiscard, gnu::always_inline]] result<std::size_t> receive(
      std::span<std::byte> buffer, deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    if (!until.is_never()) [[unlikely]] {
      return detail::once_until(native_handle(), POLLIN, until.at(),
                                [&](int flags) { return receive_once(buffer, flags); });
    }
    return receive_once(buffer, 0);
  }

  /// Message socket: receives one whole message and returns its size (0 is a valid empty
  /// message). A message longer than `buffer` is never cut silently: the call fails with
  /// `errc::message_truncated`, the buffer holds the message's head, and the rest is gone.
  /// One recvmsg(2), so 0 is also what the end of a seqpacket stream returns: where empty
  /// messages can occur, use `receive_message`, which tells the two apart. A message that
  /// carried descriptors has them closed and fails with `errc::descriptors_discarded` (the
  /// message itself is gone too; `receive_message` reports both).
  [[nodiscard]] result<std::size_t> receive(std::span<std::byte> buffer) noexcept
      requires(Type::message_oriented) {
    auto extent = detail::receive_one_message<!tipc>(native_handle(), buffer);
    if (!extent) {
      if constexpr (tipc) {
        if (ends_tipc_stream(extent.assume_error())) {
          return std::size_t{0};
        }
      }
      return extent.assume_error();
    }
    if (extent.assume_value().descriptors_discarded) [[unlikely]] {
      return detail::descriptors_discarded_error();
    }
    if (extent.assume_value().truncated) {
      return make_error_code(errc::message_truncated);
    }
    return extent.assume_value().stored;
  }

  /// `receive` into any writable byte range, in place.
  template <class R>
  requires receive_buffer<R>
  [[nodiscard]] result<std::size_t> receive(R&& buffer) noexcept {
    return receive(writable_bytes_of(buffer));
  }

  /// Scatter: one recvmsg(2) filling the buffers in order. Stream: as `receive` (a short
  /// count, 0 at EOF, EINVAL for no room at all, `errc::descriptors_discarded`), into at
  /// most the first `max_io_buffers` buffers. Message socket: one whole message spread over
  /// the buffers, as `receive`; more than `max_io_buffers` buffers fail with EMSGSIZE and
  /// receive nothing.
  [[nodiscard]] result<std::size_t> receive(
      std::span<const std::span<std::byte>> buffers) noexcept {
    if constexpr (Type::message_oriented) {
      auto extent = receive_scattered_message(buffers, false);
      if (!extent) {
        return extent.assume_error();
      }
      if (extent.assume_value().descriptors_discarded) [[unlikely]] {
        return detail::descriptors_discarded_error();
      }
      if (extent.assume_value().truncated()) {
        return make_error_code(errc::message_truncated);
      }
      return extent.assume_value().stored;
    } else {
      std::size_t stored = 0;
      auto got = detail::receive_scatter<!tipc>(native_handle(), buffers, 0, stored);
      if constexpr (tipc) {
        return tipc_end_as(std::move(got), std::size_t{0});
      }
      return got;
    }
  }

  /// Stream: fills the rest of `in` (its bytes from `in.done()` on) until it is full, or
  /// `until` passes. `in.done()` counts exactly the bytes received, on failure too, and calling
  /// again with the same `in` resumes after them. Returns `in.size()`.
  ///
  /// Errors: EOF before `in` is full is `errc::unexpected_eof`; descriptors attached to the
  /// bytes are closed and fail the call with `errc::descriptors_discarded` (`in.done()` counts
  /// the bytes that carried them); the deadline, as `send_all` (`std::errc::timed_out`; with no
  /// deadline, `std::errc::operation_would_block` on a non-blocking socket); the socket's.
  //
  // With no deadline, the same shape as `send_all`: one receive inline, the loop out of line.
  [[nodiscard, gnu::always_inline]] result<std::size_t> receive_exact(
      incoming& in, deadline until = deadline::never()) noexcept requires(!Type::message_oriented) {
    std::size_t& done = detail::transfer_access::done(in);
    const std::span<std::byte> buffer = in.bytes();
    if (!until.is_never()) [[unlikely]] {
      return detail::transfer_until(native_handle(), POLLIN, until.at(), buffer.size(), done,
                                    detail::unexpected_eof_error(),
                                    [&](std::size_t skip, int flags) {
                                      return receive_counting(buffer.subspan(skip), flags, done);
                                    });
    }
    const std::size_t left = buffer.size() - done;
    if (left != 0) [[likely]] {
      // The common case fills the rest in one call; anything else goes on out of line (a
      // negative count, cast, is never `left`).
      bool discarded = false;
      detail::stream_receiver<!tipc> receiver(native_handle());
      const ssize_t n = receiver.receive(buffer.data() + done, left, discarded);
      if (static_cast<std::size_t>(n) != left || discarded) [[unlikely]] {
        return receive_exact_rest(in, n, discarded);
      }
      done = buffer.size();
    }
    return buffer.size();
  }

  /// Stream: fills all of `buffer` (any writable byte range, in place), as the `incoming` form;
  /// on failure how much arrived is not kept: use an `incoming` where a retry must resume.
  template <class R>
  requires receive_buffer<R>
  [[nodiscard, gnu::always_inline]] result<std::size_t> receive_exact(
      R&& buffer, deadline until = deadline::never()) noexcept requires(!Type::message_oriented) {
    incoming in(buffer);
    return receive_exact(in, until);
  }

  /// Stream, scatter: fills every buffer of `in` completely, in order, as the single-buffer
  /// form (resumable, the same errors and deadline). Returns `in.size()`.
  [[nodiscard]] result<std::size_t> receive_exact(incoming_buffers& in,
                                                  deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    std::size_t& done = detail::transfer_access::done(in);
    auto one = [&](std::size_t skip, int flags) {
      std::size_t stored = 0;
      auto got = detail::receive_scatter<!tipc>(native_handle(), in.bytes(), skip, stored, flags);
      done += stored;  // descriptors_discarded: the bytes count
      if constexpr (tipc) {
        return tipc_end_as(std::move(got), std::size_t{0});
      }
      return got;
    };
    if (!until.is_never()) [[unlikely]] {
      return detail::transfer_until(native_handle(), POLLIN, until.at(), in.size(), done,
                                    detail::unexpected_eof_error(), one);
    }
    return detail::transfer_all(in.size(), done, detail::unexpected_eof_error(), one);
  }

  /// Stream, scatter: fills every buffer; see the `incoming_buffers` form.
  [[nodiscard]] result<std::size_t> receive_exact(std::span<const std::span<std::byte>> buffers,
                                                  deadline until = deadline::never()) noexcept
      requires(!Type::message_oriented) {
    incoming_buffers in(buffers);
    return receive_exact(in, until);
  }

  /// Refused: progress lives in a transfer (`sockpair::incoming`); see `send_all`.
  // clang-format off
  template <class R>
  result<std::size_t> receive_exact(R&&, std::size_t&) = delete;  // sockpair: progress lives in a transfer (sockpair::incoming), not in a counter beside the buffer
  // clang-format on

  /// Message socket: receives one whole message, or learns that the stream has ended, and
  /// says which, exactly: an empty message is a message (`size == 0`), the end is
  /// `end_of_stream`. A message longer than `buffer` is `truncated()` (its head is stored,
  /// the rest discarded) with its real `size` reported; that is not an error here.
  /// Costs one zero-copy peek(2) before the recvmsg(2); exact for one reader at a time.
  [[nodiscard]] result<message_info> receive_message(std::span<std::byte> buffer) noexcept
      requires(Type::message_oriented) {
    return receive_scattered_message(std::span<const std::span<std::byte>>(&buffer, 1), true);
  }

  template <class R>
  requires receive_buffer<R>
  [[nodiscard]] result<message_info> receive_message(R&& buffer) noexcept
      requires(Type::message_oriented) {
    return receive_message(writable_bytes_of(buffer));
  }

  /// Message socket, scatter: as above, the message spread over the buffers in order.
  [[nodiscard]] result<message_info> receive_message(
      std::span<const std::span<std::byte>> buffers) noexcept requires(Type::message_oriented) {
    return receive_scattered_message(buffers, true);
  }

  // ---- Looking without consuming ------------------------------------------------------------

  /// Stream: copies what one recv(2) would return into `buffer`, leaving it queued (MSG_PEEK).
  /// 0 means EOF. An empty `buffer` fails with EINVAL, as `receive` does.
  [[nodiscard]] result<std::size_t> peek(std::span<std::byte> buffer) noexcept
      requires(!Type::message_oriented) {
    if constexpr (tipc) {
      return tipc_end_as(detail::peek_some(native_handle(), buffer), std::size_t{0});
    }
    return detail::peek_some(native_handle(), buffer);
  }

  /// Message socket: copies the next message's head into `buffer` and reports it as
  /// `receive_message` would, leaving the message queued (a truncated peek discards nothing).
  [[nodiscard]] result<message_info> peek(std::span<std::byte> buffer) noexcept
      requires(Type::message_oriented) {
    auto extent = detail::receive_one_message(native_handle(), buffer, MSG_PEEK);
    if (!extent) {
      if constexpr (tipc) {
        if (ends_tipc_stream(extent.assume_error())) {
          return message_info{0, 0, true};
        }
      }
      return extent.assume_error();
    }
    if constexpr (tipc) {
      if (extent.assume_value().message_size == 0) {
        return message_info{0, 0, true};  // TIPC delivers no empty message: a 0 is the end
      }
    }
    if (extent.assume_value().message_size == 0) {
      auto end = detail::zero_means_end_of_stream(native_handle(), exact_end_of_stream);
      if (!end) {
        return end.assume_error();
      }
      return message_info{0, 0, end.assume_value()};
    }
    return message_info{extent.assume_value().stored, extent.assume_value().message_size, false};
  }

  template <class R>
  requires receive_buffer<R>
  [[nodiscard]] auto peek(R&& buffer) noexcept { return peek(writable_bytes_of(buffer)); }

  /// Message socket: waits for the next message (as a receive would) and returns its size
  /// without copying or consuming it, to size a buffer. Fails with `errc::unexpected_eof` if
  /// the stream ends instead. On Linux; elsewhere the size is a lower bound.
  [[nodiscard]] result<std::size_t> next_message_size() noexcept requires(Type::message_oriented) {
    if constexpr (tipc) {
      return detail::tipc_peek_next_message(native_handle(), true);  // peeks it whole
    }
    return detail::peek_next_message(native_handle(), exact_end_of_stream);
  }

  // ---- Closing a direction ------------------------------------------------------------------

  /// What `shutdown` takes: a `shutdown_how`; on TIPC only the constant `shutdown_how::both`
  /// (TIPC's shutdown(2) refuses the others with EINVAL): `read` or `write` fail to compile.
  using shutdown_argument =
      std::conditional_t<std::same_as<Domain, tipc_domain>,
                         detail::both_directions_only<shutdown_how>, shutdown_how>;

  /// shutdown(2): after `write` (or `both`) the peer reads EOF, and may still answer if only
  /// `write` was shut. TIPC: `both` only, and not on dgram or rdm sockets, which cannot shut
  /// down (the kernel: ENOTCONN); see docs/io.md for what the peer then sees.
  [[nodiscard]] result<void> shutdown(shutdown_argument how) noexcept
      requires(!detail::tipc_dgram_and_rdm_cannot_shut_down<Type, Domain>) {
    if constexpr (std::same_as<Domain, tipc_domain>) {
      return detail::check(::shutdown(native_handle(), static_cast<int>(how.how)));
    } else {
      return detail::check(::shutdown(native_handle(), static_cast<int>(how)));
    }
  }

  // ---- Readiness (poll(2)) ------------------------------------------------------------------

  /// Waits until a receive would not block, at most `timeout` (negative: zero, a mere check).
  /// EOF, a hangup and a pending error count as ready: the receive reports them. A signal
  /// does not end the wait early.
  /// Any std::chrono duration type; one too long for the steady clock (292 years of
  /// nanoseconds) is no timeout, never an overflow.
  template <class Rep, class Period>
  [[nodiscard]] result<readiness> wait_readable(
      std::chrono::duration<Rep, Period> timeout) noexcept {
    return as_readiness(detail::wait_for(native_handle(), POLLIN, timeout));
  }

  /// Waits, with no timeout, until a receive would not block.
  [[nodiscard]] result<readiness> wait_readable() noexcept {
    return as_readiness(detail::wait_for(native_handle(), POLLIN));
  }

  /// Waits until a send would not block (for a message: room for a small one), at most
  /// `timeout`. A dead peer counts as ready: the send reports EPIPE.
  /// Any duration type, saturated as `wait_readable`'s.
  template <class Rep, class Period>
  [[nodiscard]] result<readiness> wait_writable(
      std::chrono::duration<Rep, Period> timeout) noexcept {
    return as_readiness(detail::wait_for(native_handle(), POLLOUT, timeout));
  }

  [[nodiscard]] result<readiness> wait_writable() noexcept {
    return as_readiness(detail::wait_for(native_handle(), POLLOUT));
  }

  // ---- Options ------------------------------------------------------------------------------

  /// SO_SNDBUF. Linux doubles the value given (room for its bookkeeping) and caps it at
  /// net.core.wmem_max; `send_buffer_size()` reports what the kernel uses. On AF_UNIX it also
  /// bounds the largest message: SO_SNDBUF - 32 bytes.
  [[nodiscard]] result<void> set_send_buffer_size(std::size_t bytes) noexcept {
    return detail::set_buffer_size(native_handle(), SO_SNDBUF, bytes);
  }
  [[nodiscard]] result<std::size_t> send_buffer_size() const noexcept {
    return detail::get_buffer_size(native_handle(), SO_SNDBUF);
  }

  /// SO_RCVBUF; doubled and capped (net.core.rmem_max) like SO_SNDBUF.
  [[nodiscard]] result<void> set_receive_buffer_size(std::size_t bytes) noexcept {
    return detail::set_buffer_size(native_handle(), SO_RCVBUF, bytes);
  }
  [[nodiscard]] result<std::size_t> receive_buffer_size() const noexcept {
    return detail::get_buffer_size(native_handle(), SO_RCVBUF);
  }

  /// SO_SNDTIMEO: a blocking send that waits longer fails with EAGAIN (equal to
  /// std::errc::operation_would_block), or returns the short count sent so far. Zero: no
  /// timeout. Negative: EINVAL. Any duration type, rounded up to microseconds; one too long
  /// for microseconds (292,000 years) is no timeout. The kernel rounds to its clock tick;
  /// `send_timeout()` reports what it keeps, saturating at microseconds::max().
  template <class Rep, class Period>
  [[nodiscard]] result<void> set_send_timeout(std::chrono::duration<Rep, Period> timeout) noexcept {
    return detail::set_timeout(native_handle(), SO_SNDTIMEO, timeout);
  }
  [[nodiscard]] result<std::chrono::microseconds> send_timeout() const noexcept {
    return detail::get_timeout(native_handle(), SO_SNDTIMEO);
  }

  /// SO_RCVTIMEO: a blocking receive that waits longer fails with EAGAIN (equal to
  /// std::errc::operation_would_block). Zero: no timeout. Negative: EINVAL. Any duration
  /// type, as `set_send_timeout`.
  template <class Rep, class Period>
  [[nodiscard]] result<void> set_receive_timeout(
      std::chrono::duration<Rep, Period> timeout) noexcept {
    return detail::set_timeout(native_handle(), SO_RCVTIMEO, timeout);
  }
  [[nodiscard]] result<std::chrono::microseconds> receive_timeout() const noexcept {
    return detail::get_timeout(native_handle(), SO_RCVTIMEO);
  }

  /// O_NONBLOCK: calls that would block fail with EAGAIN instead.
  [[nodiscard]] result<void> set_nonblocking(bool on) noexcept {
    return detail::set_fcntl_flag(native_handle(), F_GETFL, F_SETFL, O_NONBLOCK, on);
  }
  [[nodiscard]] result<bool> nonblocking() const noexcept {
    return detail::get_fcntl_flag(native_handle(), F_GETFL, O_NONBLOCK);
  }

  /// FD_CLOEXEC. Clear it on the one end a child must inherit across exec, just before
  /// spawning it (another thread's fork+exec in between inherits it too).
  [[nodiscard]] result<void> set_cloexec(bool on) noexcept {
    return detail::set_fcntl_flag(native_handle(), F_GETFD, F_SETFD, FD_CLOEXEC, on);
  }
  [[nodiscard]] result<bool> cloexec() const noexcept {
    return detail::get_fcntl_flag(native_handle(), F_GETFD, FD_CLOEXEC);
  }

  /// FIONREAD: bytes a receive could take now. Stream and seqpacket: all bytes queued;
  /// dgram: the size of the next message (Linux).
  [[nodiscard]] result<std::size_t> bytes_readable() const noexcept {
    return detail::ioctl_count(native_handle(), FIONREAD);
  }

  /// SIOCOUTQ: what this end has sent that the peer has not read yet. On AF_UNIX the kernel
  /// counts the memory those messages occupy (more than their payload), 0 once all is read.
  [[nodiscard]] result<std::size_t> bytes_unsent() const noexcept {
    return detail::ioctl_count(native_handle(), detail::unsent_request);
  }

 private:
  friend class socket_pair<Type, Domain>;

  // On AF_UNIX, an empty message and the end of the stream are told apart exactly.
  static constexpr bool exact_end_of_stream = std::same_as<Domain, unix_domain>;

  // TIPC's receives fail with ECONNRESET / ENOTCONN where AF_UNIX reports the end of the
  // stream (detail/tipc.hpp); the branches on `tipc` compile away on AF_UNIX.
  static constexpr bool tipc = std::same_as<Domain, tipc_domain>;

  // Stream: one receive (flags: MSG_DONTWAIT or 0), the end of a TIPC stream read as EOF.
  [[nodiscard, gnu::always_inline]] result<std::size_t> receive_once(std::span<std::byte> buffer,
                                                                     int flags) noexcept {
    if constexpr (tipc) {
      return tipc_end_as(detail::receive_some<false>(native_handle(), buffer, flags),
                         std::size_t{0});
    }
    return detail::receive_some(native_handle(), buffer, flags);
  }

  // `send_all` after its first send(2) returned `first` (a count short of the rest, or the
  // kernel's -errno): the loop a hand-written program has, each further send through
  // `detail::send_restarting` (EINTR finished there).
  [[gnu::noinline]] result<std::size_t> send_all_rest(outgoing& out, long first) noexcept {
    std::size_t& done = detail::transfer_access::done(out);
    const std::span<const std::byte> data = out.bytes();
    std::size_t moved = done;
    ssize_t n = first < 0 ? detail::finish_failed_send(native_handle(), data, moved,
                                                       detail::no_sigpipe, first)
                          : first;
    for (;;) {
      if (n <= 0) {
        done = moved;
        if (n == 0) {
          // A send of at least one byte that moves nothing cannot happen; were it to, EIO
          // (as the gathered form), not a spin.
          return detail::io_error();
        }
        return last_errno_code();
      }
      moved += static_cast<std::size_t>(n);
      if (moved == data.size()) {
        break;
      }
      n = detail::send_restarting(native_handle(), data, moved, detail::no_sigpipe);
    }
    done = moved;
    return moved;
  }

  // `receive_exact` after its first receive returned `first` (-1 with errno set, 0, or a count
  // short of the rest) or came with descriptors (`discarded`).
  [[gnu::noinline]] result<std::size_t> receive_exact_rest(incoming& in, ssize_t first,
                                                           bool discarded) noexcept {
    std::size_t& done = detail::transfer_access::done(in);
    const std::span<std::byte> buffer = in.bytes();
    std::size_t moved = done;
    ssize_t n = first;
    detail::stream_receiver<!tipc> receiver(native_handle());
    for (;;) {
      if (n <= 0) {
        done = moved;
        if (n == 0) {
          return detail::unexpected_eof_error();
        }
        if constexpr (tipc) {
          if (detail::tipc_error_means_end(errno)) {
            return detail::unexpected_eof_error();
          }
        }
        return last_errno_code();
      }
      moved += static_cast<std::size_t>(n);
      if (discarded) [[unlikely]] {
        done = moved;
        return detail::descriptors_discarded_error();
      }
      if (moved == buffer.size()) {
        break;
      }
      n = receiver.receive(buffer.data() + moved, buffer.size() - moved, discarded);
    }
    done = moved;
    return moved;
  }

  // Stream: one receive for a transfer; bytes that came with discarded descriptors still
  // count in `done` before the error is returned.
  [[nodiscard]] result<std::size_t> receive_counting(std::span<std::byte> buffer, int flags,
                                                     std::size_t& done) noexcept {
    bool discarded = false;
    detail::stream_receiver<!tipc> receiver(native_handle());
    const ssize_t n = receiver.receive(buffer.data(), buffer.size(), discarded, flags);
    if (n < 0) {
      if constexpr (tipc) {
        if (detail::tipc_error_means_end(errno)) {
          return std::size_t{0};
        }
      }
      return last_errno_code();
    }
    if (discarded) [[unlikely]] {
      done += static_cast<std::size_t>(n);
      return detail::descriptors_discarded_error();
    }
    return static_cast<std::size_t>(n);
  }

  static bool ends_tipc_stream(const std::error_code& error) noexcept {
    return error.category() == std::system_category() &&
           detail::tipc_error_means_end(error.value());
  }

  static result<std::size_t> tipc_end_as(result<std::size_t> got, std::size_t end) noexcept {
    if (!got && ends_tipc_stream(got.assume_error())) {
      return end;
    }
    return got;
  }

  // The size of the next message without consuming it; `errc::unexpected_eof` at the end.
  // TIPC: only whether one is there (a 1-byte peek; TIPC refuses a 0-byte one).
  result<std::size_t> peek_next_message() noexcept {
    if constexpr (tipc) {
      return detail::tipc_peek_next_message(native_handle(), false);
    }
    return detail::peek_next_message(native_handle(), exact_end_of_stream);
  }

  explicit socket(unique_fd fd) noexcept : fd_(std::move(fd)) {}

  static result<readiness> as_readiness(result<bool> ready) noexcept {
    if (!ready) {
      return ready.assume_error();
    }
    return ready.assume_value() ? readiness::ready : readiness::timed_out;
  }

  // One whole message into `buffers`; with `tell_end`, peeks first so that the end of the
  // stream is reported as such, not as an empty message.
  result<message_info> receive_scattered_message(std::span<const std::span<std::byte>> buffers,
                                                 bool tell_end) noexcept {
    if (buffers.size() > max_io_buffers) {
      return errno_code(EMSGSIZE);
    }
    detail::io_vector iov;
    if (!iov.assign(buffers, 0, max_io_buffers)) {
      return errno_code(ENOMEM);
    }
    if (tell_end) {
      auto next = peek_next_message();
      if (!next) {
        if (next.assume_error() == errc::unexpected_eof) {
          return message_info{0, 0, true};
        }
        return next.assume_error();
      }
    }
    auto extent =
        detail::receive_one_message<!tipc>(native_handle(), iov.data(), iov.size(), iov.bytes());
    if (!extent) {
      if constexpr (tipc) {
        if (ends_tipc_stream(extent.assume_error())) {
          return message_info{0, 0, true};
        }
      }
      return extent.assume_error();
    }
    const detail::message_extent& got = extent.assume_value();
    return message_info{got.stored, got.message_size, false, got.descriptors_discarded};
  }

  unique_fd fd_;
};

}  // namespace sockpair
