// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `sockpair::asio::async_socket<Type, Domain>`: one end of a pair bound to a Boost.Asio
// executor, with every operation of the library as an Asio asynchronous operation.
//
//   boost::asio::io_context io;
//   auto [a, b] = std::move(sockpair::socket_pair<sockpair::seqpacket>::create()).value();
//   auto end = std::move(sockpair::asio::async_socket<sockpair::seqpacket>::create(io,
//   std::move(a))).value(); end.async_receive_message(buffer, [](std::error_code ec,
//   sockpair::message_info info) {...});
//
// Optional: this header is not part of <socketpair/socketpair.hpp> and is the only one that
// includes Asio (Boost 1.81, header-only; Bazel target //socketpair:asio). docs/async.md has
// the contract of every operation on cancellation, timeout, end of stream and truncation.
//
// How it works: the end owns its descriptor and sets it non-blocking. Every byte moves through
// the library's own non-blocking calls, so each operation has exactly the synchronous call's
// semantics: an operation first tries its call; if the call would block (EAGAIN), it waits for
// readiness and tries again. A call that completes at once completes the operation through
// the I/O executor, never inside the initiating function. On Asio's reactor backends (epoll
// on Linux, the default) each operation is a reactor operation, registered and run the way
// Asio's own socket operations are (the descriptor registered once with the reactor, the call
// tried speculatively at initiation, then made by the reactor on readiness; the operation's
// memory from the handler's associated allocator). On the io_uring backend
// (BOOST_ASIO_HAS_IO_URING_AS_DEFAULT), where there is no reactor to hand a call to, an
// operation is a composed operation over readiness waits of a `posix::basic_stream_descriptor`
// assigned the same descriptor. The `Executor` parameter (default `any_io_executor`) may be
// a concrete one, e.g. `io_context::executor_type`, which saves the type erasure.
//
// Completion signatures are `void(std::error_code, T)` (readiness waits: `void(std::error_code)`),
// with the same std::error_code values the synchronous calls return; a cancelled operation
// completes with std::errc::operation_canceled (ECANCELED), plus the exact progress where it
// has any. Because the error is a std::error_code, not a boost::system::error_code, Asio's
// `use_awaitable` and `use_future` deliver a std::tuple<std::error_code, T> and never throw
// for an error, and `redirect_error` does not apply (Asio 1.81 accepts only
// boost::system::error_code there): use `as_tuple` instead. (Asio's `co_spawn` and
// `use_future` themselves need exceptions enabled; callbacks and `deferred` do not.)
//
// Cancellation (per operation, through the completion handler's cancellation slot):
// - one-system-call operations (send, receive, receive_message, the descriptor and batch
//   calls, frame reads, readiness waits) can only be cancelled while they wait, before their
//   system call: they accept terminal, partial and total cancellation, and a cancelled one
//   moved nothing (no byte, no descriptor);
// - send_all, receive_exact and write_frame accept all three until their first byte moved,
//   then terminal and partial only: a cancelled one reports exactly what moved.
//
// Lifetime and threads, as any Asio I/O object: the end stays in place (not moved) until the
// handlers of its operations have run; one operation per direction at a time; the object used
// from one thread at a time (a strand). Releasing or destroying it completes every operation
// that has not made its system call yet with operation_canceled; none touches the end after
// that (on io_uring either, where a wait that completed just before is not followed by the
// call).
//
// Under -fno-exceptions, Boost requires the program to define boost::throw_exception (Asio
// calls it on failures it cannot report otherwise, e.g. allocation); the operations here
// report everything through their error codes.
#pragma once

// g++ warns (-Wtsan) under -fsanitize=thread that Asio's scheduler uses
// std::atomic_thread_fence, which ThreadSanitizer does not model; the code is Asio's.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/version.hpp>
// The reactor path uses Asio's internal interface (detail::reactor, reactor_op, handler_work),
// which changes between Boost releases: it is taken only with the release it is written and
// tested against, 1.81; any other falls back to the composed operations over public calls
// (the io_uring backend's, tested in CI by tools/uring-test).
#if !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(BOOST_ASIO_HAS_IOCP) && \
    !defined(BOOST_ASIO_WINDOWS_RUNTIME) && BOOST_VERSION / 100 == 1081
// Asio's reactor (epoll on Linux), driven directly as Asio's own descriptor service does.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): chooses code in #if, see below
#define SOCKPAIR_ASIO_REACTOR 1
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#else
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): as above
#define SOCKPAIR_ASIO_REACTOR 0
#endif
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <sys/socket.h>

#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/byte_range.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/unique_fd.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

namespace sockpair::asio {

namespace detail {

namespace net = boost::asio;
using wait_type = net::posix::descriptor_base::wait_type;

// What a failed wait means to the caller: ECANCELED for a cancelled (or released) wait, the
// reactor's errno otherwise.
[[nodiscard]] inline std::error_code wait_error(const boost::system::error_code& ec) noexcept {
  if (ec == net::error::operation_aborted) {
    return errno_code(ECANCELED);
  }
  if (ec.category() == boost::system::system_category()) {
    return errno_code(ec.value());
  }
  return ec;
}

[[nodiscard]] inline bool would_block(const std::error_code& ec) noexcept {
  if (ec.category() == std::system_category()) {  // the library's errors: no virtual calls
    return ec.value() == EAGAIN || ec.value() == EWOULDBLOCK;
  }
  return ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again;
}

// A step of an operation: `operator()(error)` makes one attempt and returns true when the
// operation is finished (`error` set if it failed), false when it would block; `progressed()`
// says whether anything moved yet; `take()` is what the operation reports.

// One call returning `result<T>`: finished unless it would block.
template <wait_type Wait, class T, class Call>
class one_call {
 public:
  static constexpr wait_type wait = Wait;
  using value_type = T;

  explicit one_call(Call call) noexcept : call_(std::move(call)) {}

  bool operator()(std::error_code& error) noexcept {
    auto got = call_();
    if (!got) {
      if (would_block(got.assume_error())) {
        return false;
      }
      error = got.assume_error();
      return true;
    }
    value_.emplace(std::move(got).assume_value());
    return true;
  }
  [[nodiscard]] static bool progressed() noexcept { return false; }
  [[nodiscard]] T take() noexcept { return value_ ? std::move(*value_) : T{}; }

 private:
  Call call_;
  std::optional<T> value_;  // empty until the call succeeds: cheap to move until then
};

template <wait_type Wait, class T, class Call>
one_call<Wait, T, Call> make_one_call(Call call) noexcept {
  return one_call<Wait, T, Call>(std::move(call));
}

// What an operation is started with: its step, or (for a step cheaper made where it runs than
// made and then moved there) the step's arguments, a type naming the step as `step_type`, from
// which the operation constructs the step in place.
template <class S>
struct step_of {
  using type = S;
};
template <class S>
requires requires { typename S::step_type; }
struct step_of<S> {
  using type = typename S::step_type;
};
template <class S>
using step_of_t = typename step_of<std::remove_cvref_t<S>>::type;

// `receive_with_fds<N>` as a step: the descriptors land in the value the handler is given,
// made once per operation (no result<T> per attempt). An attempt on an empty socket (as a rule
// the speculative one: a receive is mostly started before its message is sent) costs the
// recvmsg(2) and one comparison; what arrived is taken out of line (`take_arrived`), so that the
// attempt itself stays small and spills nothing.
template <class Type, std::size_t N>
class receive_fds {
 public:
  static constexpr wait_type wait = wait_type::wait_read;
  using value_type = received<inplace_fd_vector<N>>;

  // What the operation is started with; the step is made from it inside the operation.
  struct arguments {
    using step_type = receive_fds;
    int fd = -1;
    std::span<std::byte> buffer;
    fd_receive_options options;
  };

  explicit receive_fds(const arguments& a) noexcept
      : fd_(a.fd),
        flags_(sockpair::detail::receive_control_flags<Type::message_oriented>(
            a.options.close_on_exec)),
        unusual_((!Type::message_oriented && a.buffer.empty()) ||
                 a.options.sender_pidfd != nullptr),
        iov_{a.buffer.data(), a.buffer.size()},
        options_(a.options) {}
  // (The composed operations of the io_uring backend move their step between attempts.) The
  // message header is made afresh, pointing at this step's `iov_`; the rest of it is set by
  // each attempt.
  receive_fds(receive_fds&& other) noexcept
      : fd_(other.fd_),
        flags_(other.flags_),
        unusual_(other.unusual_),
        iov_(other.iov_),
        options_(other.options_),
        value_(std::move(other.value_)) {}
  receive_fds(const receive_fds&) = delete;
  receive_fds& operator=(const receive_fds&) = delete;
  receive_fds& operator=(receive_fds&&) = delete;
  ~receive_fds() = default;

  bool operator()(std::error_code& error) noexcept {
    if (unusual_) [[unlikely]] {
      abandon();  // reset at the start of the call, a failed one included
      if (!Type::message_oriented && iov_.iov_len == 0) {
        error = sockpair::detail::ancillary_errno(EINVAL);  // 0 would read as EOF
        return true;
      }
    }
    sockpair::detail::control_buffer<control_space> control;
    msg_.msg_control = control.bytes.data();
    msg_.msg_controllen = static_cast<decltype(msg_.msg_controllen)>(control_space);
    const long rc = sockpair::detail::sys::recvmsg(fd_, &msg_, flags_);
    if (rc == -EAGAIN) {
      return false;
    }
    return take_arrived(rc, error);
  }
  [[nodiscard]] static bool progressed() noexcept { return false; }
  [[nodiscard]] value_type take() noexcept { return std::move(value_); }
  // The operation fails, possibly without any attempt (the reactor's EBADF for an empty end):
  // the sender_pidfd slot ends empty, as after the synchronous call's failure.
  void abandon() noexcept {
    if (options_.sender_pidfd != nullptr) {
      options_.sender_pidfd->reset();
    }
  }

 private:
  static constexpr std::size_t control_space = sockpair::detail::receive_control_space(N);

  // After a recvmsg(2) that did not find the socket empty: `rc` is its count or -errno (EINTR
  // restarted here, as every receive of the library restarts it). `msg_` still points into
  // the attempt's control buffer.
  [[gnu::always_inline]] bool take_arrived(long rc, std::error_code& error) noexcept {
    ssize_t n = rc;
    if (rc < 0) [[unlikely]] {
      n = sockpair::detail::finish_failed_recvmsg(fd_, &msg_, flags_, rc);
      if (n < 0) {
        const std::error_code failed = sockpair::detail::ancillary_errno();
        if (would_block(failed)) {
          return false;  // (after a restarted EINTR)
        }
        error = failed;
        return true;
      }
    }
    sockpair::detail::inplace_slots<N> sink(value_);
    auto got = sockpair::detail::take_received<Type::message_oriented>(
        msg_, n, iov_.iov_len, sink, options_.close_on_exec, options_.sender_pidfd);
    if (!got) [[unlikely]] {
      error = got.assume_error();
      return true;
    }
    value_.size = got.assume_value();
    return true;
  }

  // A message header reading into `*iov`, its control buffer still to be set.
  [[nodiscard]] static msghdr make_header(iovec* iov) noexcept {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    return msg;
  }

  int fd_;
  int flags_;
  bool unusual_;  // an empty stream buffer (EINVAL) or a pidfd to reset: tested only then
  iovec iov_;
  msghdr msg_ = make_header(&iov_);  // msg_control (and its length) set by each attempt
  fd_receive_options options_;
  value_type value_;
};

// Calls `call(done)` (one system call moving bytes from offset `done` of `total`) until all
// have moved; a 0 count is `at_zero`. Reports the bytes moved, also on failure.
template <wait_type Wait, class Call>
class all_of {
 public:
  static constexpr wait_type wait = Wait;
  using value_type = std::size_t;

  all_of(std::size_t total, std::error_code at_zero, Call call) noexcept
      : total_(total), at_zero_(at_zero), call_(std::move(call)) {}

  bool operator()(std::error_code& error) noexcept {
    while (done_ < total_) {
      std::size_t stored = 0;
      auto got = call_(done_, stored);
      done_ += stored;  // bytes that arrived with a failure (descriptors_discarded)
      if (!got) {
        if (would_block(got.assume_error())) {
          return false;
        }
        error = got.assume_error();
        return true;
      }
      if (got.assume_value() == 0) {
        error = at_zero_;
        return true;
      }
      done_ += got.assume_value();
    }
    return true;
  }
  [[nodiscard]] bool progressed() const noexcept { return done_ != 0; }
  [[nodiscard]] std::size_t take() const noexcept { return done_; }

 private:
  std::size_t total_;
  std::error_code at_zero_;
  Call call_;
  std::size_t done_ = 0;
};

template <wait_type Wait, class Call>
all_of<Wait, Call> make_all_of(std::size_t total, std::error_code at_zero, Call call) noexcept {
  return all_of<Wait, Call>(total, at_zero, std::move(call));
}

// A frame into a frame_writer, then a flush. Reports whether the frame was accepted.
template <class Writer>
class frame_write {
 public:
  static constexpr wait_type wait = wait_type::wait_write;
  using value_type = bool;

  frame_write(Writer& writer, std::span<const std::byte> frame) noexcept
      : writer_(&writer), frame_(frame), backlog_(writer.pending_bytes()) {}

  bool operator()(std::error_code& error) noexcept {
    if (!accepted_) {
      if (auto queued = writer_->write(frame_); !queued) {
        if (would_block(queued.assume_error())) {
          return false;  // a backlog refuses the frame until it has gone
        }
        error = queued.assume_error();
        return true;
      }
      accepted_ = true;
    }
    if (auto flushed = writer_->flush(); !flushed) {
      if (would_block(flushed.assume_error())) {
        return false;
      }
      error = flushed.assume_error();
    }
    return true;
  }
  // The frame accepted, or part of an earlier frame's backlog sent before it (by `write`).
  [[nodiscard]] bool progressed() const noexcept {
    return accepted_ || writer_->pending_bytes() != backlog_;
  }
  [[nodiscard]] bool take() const noexcept { return accepted_; }

 private:
  Writer* writer_;
  std::span<const std::byte> frame_;
  std::size_t backlog_;  // the writer's pending bytes when the operation started
  bool accepted_ = false;
};

// What a binding shares with the composed operations started on it: whether its end is still
// bound (false once released or destroyed) and how many times `cancel()` was called.
struct binding_gate {
  bool bound = true;
  std::size_t cancels = 0;
};

// The composed operation: try the step; on would-block wait for readiness and try again.
// A wait that completed may still be queued to run when the end is released, destroyed or
// cancelled (`gate`): the step must not run then (its descriptor may be handed back, closed,
// or its number another socket's; cancel() would not reach a step that waits again).
template <class Descriptor, class Step>
class step_op {
 public:
  template <class S>
  step_op(Descriptor& descriptor, std::shared_ptr<const binding_gate> gate, S&& step) noexcept
      : descriptor_(&descriptor), gate_(std::move(gate)), step_(std::forward<S>(step)) {}

  // Called again by Asio after each wait or post, from the executor, never from within itself.
  template <class Self>
  void operator()(Self& self,  // NOLINT(misc-no-recursion): see above
                  boost::system::error_code waited = {}) {
    const bool first = state_ == state::starting;
    switch (state_) {
      case state::starting:
        self.reset_cancellation_state(net::enable_total_cancellation());
        break;
      case state::finished:  // the posted completion of a step that finished at once
        finish(self);
        return;
      case state::waiting:
        if (waited) {  // cancelled, or the end released: the end may be gone, never touch it
          error_ = wait_error(waited);
          finish(self);
          return;
        }
        if (gate_ == nullptr || !gate_->bound || gate_->cancels != cancels_) {
          error_ = errno_code(ECANCELED);  // ready, then released, destroyed or cancelled
          finish(self);
          return;
        }
        break;
    }
    if (step_(error_)) {
      if (first) {
        state_ = state::finished;
        net::post(self.get_io_executor(), std::move(self));
        return;
      }
      finish(self);
      return;
    }
    if (self.cancelled() != net::cancellation_type::none) {  // asked while we were queued
      error_ = errno_code(ECANCELED);
      finish(self);
      return;
    }
    if (!narrowed_ && step_.progressed()) {
      // Bytes moved: from now on a cancellation has side effects (reported ones).
      narrowed_ = true;
      self.reset_cancellation_state(net::enable_partial_cancellation());
    }
    state_ = state::waiting;
    cancels_ = gate_ != nullptr ? gate_->cancels : 0;
    descriptor_->async_wait(Step::wait, std::move(self));
  }

 private:
  enum class state : unsigned char { starting, waiting, finished };

  template <class Self>
  void finish(Self& self) {
    self.complete(error_, step_.take());
  }

  Descriptor* descriptor_;
  std::shared_ptr<const binding_gate> gate_;
  std::size_t cancels_ = 0;  // gate_->cancels when the wait started
  Step step_;
  std::error_code error_;
  state state_ = state::starting;
  bool narrowed_ = false;
};

// A readiness wait: completes with the wait's error only.
template <class Descriptor>
class wait_op {
 public:
  wait_op(Descriptor& descriptor, wait_type wait) noexcept
      : descriptor_(&descriptor), wait_(wait) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code waited = {}) {
    if (!started_) {
      started_ = true;
      self.reset_cancellation_state(net::enable_total_cancellation());
      descriptor_->async_wait(wait_, std::move(self));
      return;
    }
    self.complete(waited ? wait_error(waited) : std::error_code());
  }

 private:
  Descriptor* descriptor_;
  wait_type wait_;
  bool started_ = false;
};

// A readiness wait as a step: finished as soon as it is tried (the reactor tries it only once
// the descriptor is ready, since a wait is started without a speculative attempt).
template <wait_type Wait>
struct ready {
  static constexpr wait_type wait = Wait;
  using value_type = void;

  bool operator()(std::error_code& /*error*/) const noexcept { return true; }
  [[nodiscard]] static bool progressed() noexcept { return false; }
};

#if SOCKPAIR_ASIO_REACTOR

using reactor = net::detail::reactor;

// An operation's completion signature: void(std::error_code, T), void(std::error_code) for void.
template <class T>
struct signature_of {
  using type = void(std::error_code, T);
};
template <>
struct signature_of<void> {
  using type = void(std::error_code);
};

[[nodiscard]] constexpr int reactor_op_type(wait_type wait) noexcept {
  return wait == wait_type::wait_write ? reactor::write_op : reactor::read_op;
}

// What a completed operation hands to its handler, made before the operation's memory goes
// back to the handler's allocator (Asio's binder2, for move-only values and std::error_code).
template <class Handler, class T>
struct completion {
  Handler handler_;
  std::error_code error_;
  T value_;

  void operator()() { std::move(handler_)(error_, std::move(value_)); }
};

template <class Handler>
struct completion<Handler, void> {
  Handler handler_;
  std::error_code error_;

  void operator()() { std::move(handler_)(error_); }
};

// Per-operation cancellation through the handler's slot, as Asio's reactor_op_cancellation:
// the operation leaves the reactor's queue with operation_aborted. Terminal and partial always;
// total only while nothing has moved (`narrow()`, called by the operation under the reactor's
// lock for the descriptor, the moment a step reports progress).
class reactor_cancellation {
 public:
  reactor_cancellation(reactor* owner, reactor::per_descriptor_data* data, int fd,
                       int op_type) noexcept
      : reactor_(owner), data_(data), fd_(fd), op_type_(op_type) {}

  void operator()(net::cancellation_type_t type) {
    auto accepted = net::cancellation_type::terminal | net::cancellation_type::partial;
    if (!narrowed_.load(std::memory_order_acquire)) {
      accepted = accepted | net::cancellation_type::total;
    }
    if ((type & accepted) != net::cancellation_type::none) {
      reactor_->cancel_ops_by_key(fd_, *data_, op_type_, this);
    }
  }
  void narrow() noexcept { narrowed_.store(true, std::memory_order_release); }

 private:
  reactor* reactor_;
  reactor::per_descriptor_data* data_;
  int fd_;
  int op_type_;
  std::atomic<bool> narrowed_{false};
};

// A step as a reactor operation, the shape of Asio's descriptor_read_op: the reactor runs
// `do_perform` (the step: the library's non-blocking call) speculatively at the start and
// again on each readiness event, under its lock for the descriptor; `do_complete` hands the
// result to the handler through its associated executor. The memory comes from the
// handler's associated allocator (Asio's recycling allocator by default).
template <class Step, class Handler, class IoExecutor>
class step_reactor_op : public net::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(step_reactor_op);

  // Flattened, as the perform function below: all it calls (Asio's handler work tracking, the
  // library's call) inlined into it, which g++ would otherwise leave out of line
  // (callgrind: 3,618 -> 3,342 instructions per asynchronous round trip).
  template <class S>
  [[gnu::flatten]] step_reactor_op(S&& step, Handler& handler, const IoExecutor& io_ex)
      : reactor_op(boost::system::error_code(), &step_reactor_op::do_perform,
                   &step_reactor_op::do_complete),
        step_(std::forward<S>(step)),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  void watch(reactor_cancellation* cancellation) noexcept {
    cancellation_key_ = cancellation;
    cancellation_ = cancellation;
  }

  [[gnu::flatten]] static status do_perform(reactor_op* base) noexcept {
    auto* op = static_cast<step_reactor_op*>(base);
    if (op->step_(op->error_)) {
      op->finished_ = true;
      return done;
    }
    if (op->cancellation_ != nullptr && op->step_.progressed()) {
      op->cancellation_->narrow();  // bytes moved: a cancellation now has reported effects
    }
    return not_done;
  }

  static void do_complete(void* owner, net::detail::operation* base,
                          const boost::system::error_code& /*ec*/, std::size_t /*bytes*/) {
    auto* op = static_cast<step_reactor_op*>(base);
    ptr p = {std::addressof(op->handler_), op, op};
    net::detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
    // Not finished: cancelled or the end released (the reactor's operation_aborted), or the
    // reactor failed or shut down; the step's progress is still reported. (The reactor sets
    // `ec_` only on an operation still queued, never on one whose step finished.)
    std::error_code error = op->error_;
    if (!op->finished_) [[unlikely]] {
      error = op->ec_ ? wait_error(op->ec_) : errno_code(ECANCELED);
      if constexpr (requires { op->step_.abandon(); }) {
        if (owner != nullptr) {  // (not while the context is destroyed: the caller's may be gone)
          op->step_.abandon();   // (the reactor fails an empty end's operation untried)
        }
      }
    }
    using value_type = typename Step::value_type;
    if constexpr (std::is_void_v<value_type>) {
      completion<Handler, void> done{std::move(op->handler_), error};
      p.h = std::addressof(done.handler_);
      p.reset();
      if (owner != nullptr) {
        const net::detail::fenced_block fence(net::detail::fenced_block::half);
        work.complete(done, done.handler_);
      }
    } else {
      completion<Handler, value_type> done{std::move(op->handler_), error, op->step_.take()};
      p.h = std::addressof(done.handler_);
      p.reset();
      if (owner != nullptr) {
        const net::detail::fenced_block fence(net::detail::fenced_block::half);
        work.complete(done, done.handler_);
      }
    }
  }

 private:
  Step step_;
  Handler handler_;
  net::detail::handler_work<Handler, IoExecutor> work_;
  reactor_cancellation* cancellation_ = nullptr;
  std::error_code error_;
  bool finished_ = false;
};

// The end's registration with the reactor of its executor's context, as Asio's
// reactive_descriptor_service keeps it: registered once (EPOLLIN|EPOLLOUT edge-triggered on
// first need), each operation queued on it without touching epoll again.
template <class Executor>
class binding {
 public:
  explicit binding(const Executor& executor)
      : executor_(executor),
        reactor_(&net::use_service<reactor>(net::query(executor, net::execution::context))) {
    reactor_->init_task();
  }
  // The executor is copied, as Asio's I/O objects do: a moved-from end keeps a valid one.
  binding(binding&& other) noexcept
      // NOLINTNEXTLINE(performance-move-constructor-init): see above
      : executor_(other.executor_), reactor_(other.reactor_), fd_(std::exchange(other.fd_, -1)) {
    reactor_->move_descriptor(fd_, data_, other.data_);
  }
  binding& operator=(binding&& other) noexcept {
    if (this != &other) {
      release();
      executor_ = other.executor_;
      reactor_ = other.reactor_;
      fd_ = std::exchange(other.fd_, -1);
      reactor_->move_descriptor(fd_, data_, other.data_);
    }
    return *this;
  }
  binding(const binding&) = delete;
  binding& operator=(const binding&) = delete;
  ~binding() { release(); }

  // NOLINTNEXTLINE(bugprone-exception-escape): only std::bad_alloc, which ends the program
  [[nodiscard]] std::error_code assign(int fd) noexcept {
    if (const int error = reactor_->register_descriptor(fd, data_); error != 0) {
      return errno_code(error);
    }
    fd_ = fd;
    return {};
  }

  // Unregisters (the descriptor stays open); operations still queued complete with
  // operation_aborted.
  void release() noexcept {
    if (fd_ != -1) {
      reactor_->deregister_descriptor(fd_, data_, false);
      reactor_->cleanup_descriptor_data(data_);
      fd_ = -1;
    }
  }

  [[nodiscard]] std::error_code cancel() noexcept {
    if (fd_ != -1) {
      reactor_->cancel_ops(fd_, data_);
    }
    return {};
  }

  [[nodiscard]] const Executor& get_executor() const noexcept { return executor_; }

  // `step` (a step, or its arguments: `step_of`) is taken by reference down to the operation
  // that owns it (one move, not four); a deferred token stores its own copy.
  template <class Step, class Token>
  auto start(Step&& step, Token&& token) {
    return net::async_initiate<Token,
                               typename signature_of<typename step_of_t<Step>::value_type>::type>(
        initiation{this}, token, std::forward<Step>(step));
  }

 private:
  struct initiation {
    binding* self;

    using executor_type = Executor;
    [[nodiscard]] const executor_type& get_executor() const noexcept { return self->executor_; }

    template <class Handler, class Step>
    void operator()(Handler&& handler, Step&& step) const {
      self->launch(handler, std::forward<Step>(step));
    }
  };

  // Allocates the operation (Asio's handler_ptr idiom: `p` frees it on every path until the
  // reactor owns it) and starts it; `step` is moved (or, from a deferred token, copied) into it,
  // or the step is made in it from `step`, its arguments.
  template <class Handler, class S>
  void launch(Handler& handler, S&& step) {
    using Step = step_of_t<S>;
    using handler_type = std::decay_t<Handler>;
    using op = step_reactor_op<Step, handler_type, Executor>;
    constexpr int op_type = reactor_op_type(Step::wait);
    constexpr bool speculative = !std::is_void_v<typename Step::value_type>;
    const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = net::get_associated_cancellation_slot(handler);
    typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): `p` owns it, then the reactor
    p.p = new (p.v) op(std::forward<S>(step), handler, executor_);
    if (slot.is_connected()) {
      p.p->watch(&slot.template emplace<reactor_cancellation>(reactor_, &data_, fd_, op_type));
    }
    reactor_->start_op(op_type, fd_, data_, p.p, is_continuation, speculative);
    p.v = p.p = nullptr;
  }

  Executor executor_;
  reactor* reactor_;
  reactor::per_descriptor_data data_{};
  int fd_ = -1;
};

#else  // !SOCKPAIR_ASIO_REACTOR

// Asio's io_uring backend: readiness waits on a posix::basic_stream_descriptor assigned the
// same descriptor, each operation a composed operation (step_op) over them. Unlike the
// reactor, which makes an operation's call before it queues the handler, the ring completes
// the wait and the call is made when the handler runs, possibly after the end was released,
// destroyed or cancelled: `gate_`, shared with the operations, tells them (step_op).
template <class Executor>
class binding {
  using descriptor_type = net::posix::basic_stream_descriptor<Executor>;

 public:
  explicit binding(const Executor& executor) : descriptor_(executor) {}
  binding(binding&&) noexcept = default;
  binding& operator=(binding&& other) noexcept {
    if (this != &other) {
      release();
      descriptor_ = std::move(other.descriptor_);
      gate_ = std::move(other.gate_);
    }
    return *this;
  }
  binding(const binding&) = delete;
  binding& operator=(const binding&) = delete;
  ~binding() { release(); }

  // NOLINTNEXTLINE(bugprone-exception-escape): only std::bad_alloc, which ends the program
  [[nodiscard]] std::error_code assign(int fd) noexcept {
    boost::system::error_code ec;
    static_cast<void>(descriptor_.assign(fd, ec));
    if (ec) {
      return wait_error(ec);
    }
    gate_ = std::make_shared<binding_gate>();
    return {};
  }
  // Operations whose wait already completed see the gate closed and make no call.
  void release() noexcept {
    static_cast<void>(descriptor_.release());
    if (gate_ != nullptr) {
      gate_->bound = false;
      gate_.reset();
    }
  }
  // As release(), for the operations whose wait already completed: they complete cancelled.
  [[nodiscard]] std::error_code cancel() noexcept {
    if (gate_ != nullptr) {
      ++gate_->cancels;
    }
    boost::system::error_code ec;
    static_cast<void>(descriptor_.cancel(ec));
    return ec ? wait_error(ec) : std::error_code();
  }
  [[nodiscard]] Executor get_executor() noexcept { return descriptor_.get_executor(); }

  template <class Step, class Token>
  auto start(Step&& step, Token&& token) {
    using step_type = step_of_t<Step>;
    if constexpr (std::is_void_v<typename step_type::value_type>) {
      return net::async_compose<Token, void(std::error_code)>(
          wait_op<descriptor_type>(descriptor_, step_type::wait), token, descriptor_);
    } else {
      return net::async_compose<Token, void(std::error_code, typename step_type::value_type)>(
          step_op<descriptor_type, step_type>(descriptor_, gate_, std::forward<Step>(step)), token,
          descriptor_);
    }
  }

 private:
  descriptor_type descriptor_;
  std::shared_ptr<binding_gate> gate_;  // null when empty or released
};

#endif  // SOCKPAIR_ASIO_REACTOR

template <class T>
concept execution_context_like = std::derived_from<T, net::execution_context>;

}  // namespace detail

/// One end of a socket pair bound to an Asio executor. Owns its descriptor (non-blocking
/// from `create` on). Move-only; a moved-from end is empty. Every `async_*` call takes any
/// Asio completion token (default: the executor's default token) and keeps the buffers it is
/// given by reference: they must outlive the operation, as with Asio's own calls.
template <socket_type Type, socket_domain Domain = unix_domain,
          class Executor = boost::asio::any_io_executor>
requires pairable<Domain, Type>
class async_socket {
  using wait_type = detail::wait_type;

 public:
  using type = Type;
  using domain = Domain;
  using executor_type = Executor;
  /// The synchronous end this one drives.
  using next_layer_type = socket<Type, Domain>;

  /// Binds `end` to `executor`: sets O_NONBLOCK and registers the descriptor with the
  /// executor's reactor. On success `end` is moved from; on failure it is left as it was
  /// (still owning its descriptor, possibly non-blocking now). Errors: EBADF for an empty
  /// `end`; fcntl(2)'s and the reactor's (epoll_ctl(2): ENOMEM, ENOSPC) errors. The first
  /// use of an execution context creates Asio's reactor service; if that allocation fails,
  /// the program ends (std::bad_alloc through noexcept), as any allocation under
  /// -fno-exceptions does.
  // NOLINTNEXTLINE(bugprone-exception-escape): only std::bad_alloc, which ends the program
  [[nodiscard]] static result<async_socket> create(const Executor& executor,
                                                   next_layer_type&& end) noexcept {
    if (!end) {
      return errno_code(EBADF);
    }
    if (auto nonblocking = end.set_nonblocking(true); !nonblocking) {
      return nonblocking.assume_error();
    }
    async_socket out(executor);
    if (auto error = out.io_.assign(end.native_handle())) {
      return error;
    }
    out.end_ = std::move(end);
    return out;
  }

  /// As above, with the executor of `context` (an io_context, a thread_pool, ...).
  template <detail::execution_context_like Context>
  // NOLINTNEXTLINE(bugprone-exception-escape): as above
  [[nodiscard]] static result<async_socket> create(Context& context,
                                                   next_layer_type&& end) noexcept {
    return create(Executor(context.get_executor()), std::move(end));
  }

  async_socket(async_socket&& other) noexcept
      : end_(std::move(other.end_)),
        io_(std::move(other.io_)),
        recvmsg_bytes_left_(std::exchange(other.recvmsg_bytes_left_, every_byte)) {}
  async_socket& operator=(async_socket&& other) noexcept {
    if (this != &other) {
      io_ = std::move(other.io_);  // unregisters this end's descriptor before it closes
      end_ = std::move(other.end_);
      recvmsg_bytes_left_ = std::exchange(other.recvmsg_bytes_left_, every_byte);
    }
    return *this;
  }
  async_socket(const async_socket&) = delete;
  async_socket& operator=(const async_socket&) = delete;

  /// Closes the descriptor; operations waiting for readiness complete with operation_canceled.
  ~async_socket() { io_.release(); }

  [[nodiscard]] executor_type get_executor() noexcept { return io_.get_executor(); }

  /// The synchronous end (non-blocking): its calls return EAGAIN where these would wait.
  /// A `frame_reader`/`frame_writer` for `async_read_frame`/`async_write_frame` borrows it,
  /// so the async_socket must not move while they exist.
  [[nodiscard]] next_layer_type& next_layer() noexcept { return end_; }
  [[nodiscard]] const next_layer_type& next_layer() const noexcept { return end_; }

  [[nodiscard]] int native_handle() const noexcept { return end_.native_handle(); }
  explicit operator bool() const noexcept { return static_cast<bool>(end_); }

  /// Unbinds the end from the executor and hands it back (still non-blocking); pending
  /// operations complete with operation_canceled, having moved nothing more (one whose call
  /// was made before reports its result, as it would have).
  [[nodiscard]] next_layer_type release() noexcept {
    io_.release();
    recvmsg_bytes_left_ = every_byte;
    return std::move(end_);
  }

  /// Cancels every pending operation of this end (each completes with operation_canceled and
  /// its progress). Errors: the reactor's, none on Linux.
  [[nodiscard]] result<void> cancel() noexcept {
    if (auto error = io_.cancel()) {
      return error;
    }
    return success();
  }

  /// Refuses descriptors from now on: SO_PASSRIGHTS off, as `set_accept_descriptors(end,
  /// false)`, so a peer's send that carries any fails in the sender with EPERM
  /// (std::errc::operation_not_permitted) and queues nothing. A stream end then has nothing
  /// the kernel would have to drop unreported, and `async_receive` reads it with recv(2),
  /// which costs the kernel less than the recvmsg(2) it needs to see descriptors (no msghdr
  /// to copy in; docs/async.md). The bytes queued when this is called may still carry
  /// descriptors sent before: `async_receive` reads that many bytes with recvmsg(2) first,
  /// so their descriptors are still closed and reported (`errc::descriptors_discarded`).
  /// That count includes what a sender was queueing at that moment: a receive takes the
  /// lock under which the kernel checks SO_PASSRIGHTS and queues a send, so the count is
  /// read after every such send is queued.
  ///
  /// Do not turn SO_PASSRIGHTS back on behind the end's back (`set_accept_descriptors` on
  /// `next_layer()`, the descriptor, or another process holding it): the end would not
  /// notice, and descriptors sent then would be closed by the kernel unreported. Receives
  /// other than `async_receive` into one buffer keep using recvmsg(2). The setting ends
  /// with `release()`.
  ///
  /// Errors: `errc::not_supported_by_kernel` before Linux 6.16 (nothing changed); EBADF
  /// for an empty end.
  [[nodiscard]] result<void> refuse_descriptors() noexcept requires carries_ancillary_data<Domain> {
    if (auto off = set_accept_descriptors(end_, false); !off) {
      return off.assume_error();
    }
    if constexpr (!Type::message_oriented) {
      std::byte probe{};  // a peek takes the receive lock (see above); its result is unused
      static_cast<void>(sockpair::detail::recv_some(
          end_.native_handle(), std::span<std::byte>(&probe, 1), MSG_PEEK | MSG_DONTWAIT));
      if (auto queued = end_.bytes_readable()) {
        recvmsg_bytes_left_ = queued.assume_value();
      }  // (unmeasured, it stays at "every byte": never on a connected AF_UNIX stream)
    }
    return success();
  }

  // ---- Sending ------------------------------------------------------------------------------

  /// `socket::send`: one send(2) once writable. Stream: the count may be short. Message
  /// socket: the whole message or nothing. Completes with `void(std::error_code, std::size_t)`.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send(std::span<const std::byte> data, Token&& token = {}) {
    return start(detail::make_one_call<wait_type::wait_write, std::size_t>(
                     [end = &end_, data]() noexcept { return end->send(data); }),
                 std::forward<Token>(token));
  }

  /// Gather: `socket::send` of the buffers (the span of spans must outlive the operation too).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send(std::span<const std::span<const std::byte>> buffers, Token&& token = {}) {
    return start(detail::make_one_call<wait_type::wait_write, std::size_t>(
                     [end = &end_, buffers]() noexcept { return end->send(buffers); }),
                 std::forward<Token>(token));
  }

  /// Stream: sends every byte of `data`. Completes with the bytes sent: `data.size()` on
  /// success; on failure or cancellation exactly how many went out (resume from there).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send_all(std::span<const std::byte> data,
                      Token&& token = {}) requires(!Type::message_oriented) {
    return start(detail::make_all_of<wait_type::wait_write>(
                     data.size(), errno_code(EIO),
                     [end = &end_, data](std::size_t done, std::size_t&) noexcept {
                       return end->send(data.subspan(done));
                     }),
                 std::forward<Token>(token));
  }

  /// Stream, gather: every byte of every buffer; the count is across all of them.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send_all(std::span<const std::span<const std::byte>> buffers,
                      Token&& token = {}) requires(!Type::message_oriented) {
    return start(detail::make_all_of<wait_type::wait_write>(
                     sockpair::detail::total_size(buffers), errno_code(EIO),
                     [fd = end_.native_handle(), buffers](std::size_t done, std::size_t&) noexcept {
                       return sockpair::detail::send_gather(fd, buffers, done, false);
                     }),
                 std::forward<Token>(token));
  }

  // ---- Receiving ----------------------------------------------------------------------------

  /// `socket::receive`: one receive once readable. Stream: a short count, 0 at the end of the
  /// stream. Message socket: one whole message, `errc::message_truncated` if it did not fit.
  /// Completes with `void(std::error_code, std::size_t)`.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive(std::span<std::byte> buffer, Token&& token = {}) {
    return start(detail::make_one_call<wait_type::wait_read, std::size_t>(
                     [self = this, buffer]() noexcept { return self->receive_once(buffer); }),
                 std::forward<Token>(token));
  }

  /// Scatter: `socket::receive` into the buffers.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive(std::span<const std::span<std::byte>> buffers, Token&& token = {}) {
    return start(detail::make_one_call<wait_type::wait_read, std::size_t>(
                     [end = &end_, buffers]() noexcept { return end->receive(buffers); }),
                 std::forward<Token>(token));
  }

  /// Stream: fills all of `buffer`. Completes with the bytes received: `buffer.size()` on
  /// success; on failure or cancellation exactly how many arrived. The end of the stream
  /// first is `errc::unexpected_eof`; descriptors attached to the bytes are closed and fail
  /// with `errc::descriptors_discarded` (the count includes those bytes).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_exact(std::span<std::byte> buffer,
                           Token&& token = {}) requires(!Type::message_oriented) {
    return async_receive_exact_impl(buffer, std::forward<Token>(token));
  }

  /// Stream, scatter: fills every buffer; the count is across all of them.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_exact(std::span<const std::span<std::byte>> buffers,
                           Token&& token = {}) requires(!Type::message_oriented) {
    return start(receive_exact_step(buffers), std::forward<Token>(token));
  }

  /// Message socket: `socket::receive_message`. Completes with `void(std::error_code,
  /// message_info)`: an empty message (`size == 0`), the end of the stream (`end_of_stream`)
  /// and a truncated message (`truncated()`, not an error) are told apart.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_message(std::span<std::byte> buffer,
                             Token&& token = {}) requires(Type::message_oriented) {
    return start(detail::make_one_call<wait_type::wait_read, message_info>(
                     [end = &end_, buffer]() noexcept { return end->receive_message(buffer); }),
                 std::forward<Token>(token));
  }

  /// Message socket, scatter: as above, the message spread over the buffers.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_message(std::span<const std::span<std::byte>> buffers,
                             Token&& token = {}) requires(Type::message_oriented) {
    return start(detail::make_one_call<wait_type::wait_read, message_info>(
                     [end = &end_, buffers]() noexcept { return end->receive_message(buffers); }),
                 std::forward<Token>(token));
  }

  // ---- Descriptors and credentials (AF_UNIX) ------------------------------------------------

  /// `send_with_fds`: `data` and a copy of each descriptor in `fds` (borrowed: the caller
  /// still owns them and must keep them open until completion), one sendmsg(2) once
  /// writable; `options.credentials` attaches credentials. Completes with the bytes sent
  /// (stream: may be short; the descriptors went with the first bytes).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send_with_fds(std::span<const std::byte> data, std::span<const int> fds,
                           fd_send_options options,
                           Token&& token = {}) requires carries_ancillary_data<Domain> {
    return start(detail::make_one_call<wait_type::wait_write, std::size_t>(
                     [end = &end_, data, fds, options]() noexcept {
                       return send_with_fds(*end, data, fds, options);
                     }),
                 std::forward<Token>(token));
  }

  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send_with_fds(std::span<const std::byte> data, std::span<const int> fds,
                           Token&& token = {}) requires carries_ancillary_data<Domain> {
    return async_send_with_fds(data, fds, fd_send_options{}, std::forward<Token>(token));
  }

  /// `receive_with_fds<N>`: bytes and up to N descriptors, one recvmsg(2) once readable.
  /// Completes with `void(std::error_code, received<inplace_fd_vector<N>>)`: the descriptors
  /// are owned by the value handed to the handler (closed if the handler drops them). A
  /// cancelled operation made no recvmsg(2): nothing was consumed, nothing can leak. Errors as
  /// the synchronous call's (`errc::control_truncated`, `errc::message_truncated`, ...).
  template <std::size_t N, class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_with_fds(std::span<std::byte> buffer, fd_receive_options options,
                              Token&& token = {}) requires carries_ancillary_data<Domain> {
    return start(
        typename detail::receive_fds<Type, N>::arguments{end_.native_handle(), buffer, options},
        std::forward<Token>(token));
  }

  template <std::size_t N, class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_with_fds(std::span<std::byte> buffer,
                              Token&& token = {}) requires carries_ancillary_data<Domain> {
    return async_receive_with_fds<N>(buffer, fd_receive_options{}, std::forward<Token>(token));
  }

  // ---- Batches (message sockets) ------------------------------------------------------------

  /// `send_batch`: as many of `messages` as one sendmmsg(2) takes once writable. Completes
  /// with the count `k` sent (resume from `messages.subspan(k)`).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_send_batch(std::span<const std::span<const std::byte>> messages,
                        Token&& token = {}) requires(Type::message_oriented) {
    return start(detail::make_one_call<wait_type::wait_write, std::size_t>(
                     [end = &end_, messages]() noexcept { return send_batch(*end, messages); }),
                 std::forward<Token>(token));
  }

  /// `receive_batch`: the messages queued once readable (at least one). Completes with how
  /// many arrived; `results[i]` describes message `i`.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_receive_batch(std::span<const std::span<std::byte>> buffers,
                           std::span<message_info> results,
                           Token&& token = {}) requires(Type::message_oriented) {
    return start(detail::make_one_call<wait_type::wait_read, std::size_t>(
                     [end = &end_, buffers, results]() noexcept {
                       return receive_batch(*end, buffers, results);
                     }),
                 std::forward<Token>(token));
  }

  // ---- Frames (streams; framing.hpp) --------------------------------------------------------

  /// `frame_reader::read` on a reader over `next_layer()`: the next frame once whole.
  /// Completes with `void(std::error_code, std::optional<std::span<const std::byte>>)`:
  /// nullopt at a clean end of the stream; the span lives in the reader until its next read.
  /// A cancelled read loses nothing: bytes already taken stay buffered in the reader.
  template <class Stream, class Token = boost::asio::default_completion_token_t<Executor>>
  requires(!Type::message_oriented && std::same_as<Stream, next_layer_type>) auto async_read_frame(
      frame_reader<Stream>& reader, Token&& token = {}) {
    return start(
        detail::make_one_call<wait_type::wait_read, std::optional<std::span<const std::byte>>>(
            [reader = &reader]() noexcept { return reader->read(); }),
        std::forward<Token>(token));
  }

  /// `frame_writer::write(frame)` then `flush()` on a writer over `next_layer()`, waiting
  /// while the stream is full. Completes with `void(std::error_code, bool accepted)`: on
  /// success true and nothing pending; on failure or cancellation `accepted` says whether the
  /// frame is in the writer (it goes out with a later flush: do not write it again) and
  /// `writer.pending_bytes()` what is still unsent.
  template <class Stream, class Token = boost::asio::default_completion_token_t<Executor>>
  requires(!Type::message_oriented && std::same_as<Stream, next_layer_type>) auto async_write_frame(
      frame_writer<Stream>& writer, std::span<const std::byte> frame, Token&& token = {}) {
    return start(detail::frame_write<frame_writer<Stream>>(writer, frame),
                 std::forward<Token>(token));
  }

  // ---- Readiness ----------------------------------------------------------------------------

  /// Waits until a receive would not block (EOF and errors count as ready). Completes with
  /// `void(std::error_code)`.
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_wait_readable(Token&& token = {}) {
    return io_.start(detail::ready<wait_type::wait_read>{}, std::forward<Token>(token));
  }

  /// Waits until a send would not block (a dead peer counts as ready).
  template <class Token = boost::asio::default_completion_token_t<Executor>>
  auto async_wait_writable(Token&& token = {}) {
    return io_.start(detail::ready<wait_type::wait_write>{}, std::forward<Token>(token));
  }

 private:
  static constexpr bool tipc = std::same_as<Domain, tipc_domain>;

  explicit async_socket(const Executor& executor) : io_(executor) {}

  template <class Step, class Token>
  auto start(Step&& step, Token&& token) {
    return io_.start(std::forward<Step>(step), std::forward<Token>(token));
  }

  template <class Token>
  auto async_receive_exact_impl(std::span<std::byte> buffer, Token&& token) {
    return start(
        detail::make_all_of<wait_type::wait_read>(
            buffer.size(), make_error_code(errc::unexpected_eof),
            [fd = end_.native_handle(), buffer](std::size_t done, std::size_t& stored) noexcept {
              const std::span<std::byte> rest = buffer.subspan(done);
              return receive_rest(fd, std::span<const std::span<std::byte>>(&rest, 1), 0, stored);
            }),
        std::forward<Token>(token));
  }

  auto receive_exact_step(std::span<const std::span<std::byte>> buffers) noexcept {
    return detail::make_all_of<wait_type::wait_read>(
        sockpair::detail::total_size(buffers), make_error_code(errc::unexpected_eof),
        [fd = end_.native_handle(), buffers](std::size_t done, std::size_t& stored) noexcept {
          return receive_rest(fd, buffers, done, stored);
        });
  }

  // One recvmsg(2) past `skip`; TIPC's end-of-stream errors read as 0 (the end).
  static result<std::size_t> receive_rest(int fd, std::span<const std::span<std::byte>> buffers,
                                          std::size_t skip, std::size_t& stored) noexcept {
    auto got = sockpair::detail::receive_scatter<!tipc>(fd, buffers, skip, stored);
    if constexpr (tipc) {
      if (!got && got.assume_error().category() == std::system_category() &&
          sockpair::detail::tipc_error_means_end(got.assume_error().value())) {
        return std::size_t{0};
      }
    }
    return got;
  }

  // `async_receive`'s call: `socket::receive`, except on a stream end that refuses
  // descriptors (`receive_refusing`).
  result<std::size_t> receive_once(std::span<std::byte> buffer) noexcept {
    if constexpr (!Type::message_oriented && carries_ancillary_data<Domain>) {
      if (recvmsg_bytes_left_ != every_byte) {
        return receive_refusing(buffer);
      }
    }
    return end_.receive(buffer);
  }

  // recv(2) once the bytes that may carry descriptors sent before the end refused them are
  // read (with recvmsg(2), through `socket::receive`).
  result<std::size_t> receive_refusing(std::span<std::byte> buffer) noexcept {
    if (recvmsg_bytes_left_ == 0) {
      return sockpair::detail::recv_some(end_.native_handle(), buffer, 0);
    }
    auto got = end_.receive(buffer);
    if (got) {
      recvmsg_bytes_left_ -= std::min(recvmsg_bytes_left_, got.assume_value());
    }
    return got;
  }

  static constexpr std::size_t every_byte = std::numeric_limits<std::size_t>::max();

  next_layer_type end_;
  detail::binding<Executor> io_;
  // Bytes `async_receive` still reads with recvmsg(2): all (`every_byte`) until
  // `refuse_descriptors`, then those queued when it was called.
  std::size_t recvmsg_bytes_left_ = every_byte;
};

}  // namespace sockpair::asio
