// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The asynchronous cases, shared by the timed suite (async_bench.cpp) and the instruction
// counts (instructions/async_*.cpp): three exchanges, each driven by one io_context on one
// thread, written once and run over each contender's own asynchronous calls.
//
//   ping_pong      a message of `size` bytes out on one end, echoed back whole by the other,
//                  checked; one step is one round trip
//   message_rate   64-byte messages one way: the writer sends one per operation as fast as the
//                  reader takes them; one step is one message received and checked
//   fd_passing     one 1-byte message carrying one descriptor, received asynchronously (the
//                  receive is waiting before the peer sends, as in a request/reply), the
//                  descriptor closed; the send is the same synchronous call for every
//                  contender; one step is one message
//
// A contender (asio_stream below) provides, on its `end` type:
//   send_some(end&, const_bytes, handler)     one asynchronous send; handler(ec, n)
//   receive_some(end&, bytes, handler)        one asynchronous receive; handler(ec, n), n == 0
//                                             with or without an error at the end of stream
//   receive_fd(end&, handler)                 one 1-byte message and its descriptor, closed;
//                                             handler(ok)
//   end_writing(end&)                         shutdown(SHUT_WR)
// and a constructor from an io_context that makes a connected stream pair `a`, `b`.
// `Steps` decides how long a run lasts: `bool next()`, called once before the first step and
// after each one, true to go on (Google Benchmark's State::KeepRunning, or a countdown).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <socketpair/ancillary.hpp>
#include <socketpair/asio.hpp>
#include <socketpair/socket_pair.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/asio.hpp"
#include "benchmarks/raw_fd_passing.hpp"
#include "benchmarks/support.hpp"

namespace bench::async {

namespace net = boost::asio;

/// Calls `(self->*next)()`. Each exchange is a chain of asynchronous operations whose handlers
/// start the next one; a handler never runs inside the call that started its operation (it
/// runs from the io_context), so the stack never grows. Handlers continue through this call,
/// by member pointer, so that static analysis (clang-tidy's misc-no-recursion) does not take
/// the chain for recursion.
template <class T>
void then(T* self, void (T::*next)()) {
  (self->*next)();
}

/// A message of `size` bytes sent, echoed back by the other end and checked, per step.
template <class C, class Steps>
class ping_pong {
 public:
  ping_pong(C& contender, Steps& steps, std::size_t size)
      : c_(contender), steps_(steps), ping_(size, std::byte{0x5a}), pong_(size), echo_(size) {}

  /// Starts the exchange; run the io_context to completion afterwards.
  void start() {
    then(this, &ping_pong::echo_read);
    if (steps_.next()) {
      stamp(ping_, sequence_);
      then(this, &ping_pong::ping_write);
    } else {
      then(this, &ping_pong::finish);
    }
  }

  /// Round trips completed and checked.
  [[nodiscard]] std::uint64_t round_trips() const { return sequence_; }

 private:
  /// Sends what is left of `this->*Out` (from `this->*Done` on) on `c_.*End`, one operation
  /// at a time (each again through `Again`), then goes on to `Next`: the ping's send and the
  /// echo's, one body.
  template <auto End, auto Out, auto Done, auto Again, auto Next>
  void send_rest() {
    C::send_some(
        c_.*End, const_bytes(this->*Out).subspan(this->*Done), [this](auto ec, std::size_t n) {
          if (ec) {
            fail(Out == &ping_pong::ping_ ? "async ping_pong: send" : "async ping_pong: echo send");
          }
          this->*Done += n;
          if (this->*Done < (this->*Out).size()) {
            then(this, Again);
            return;
          }
          this->*Done = 0;
          then(this, Next);
        });
  }

  void ping_write() {
    send_rest<&C::a, &ping_pong::ping_, &ping_pong::ping_done_, &ping_pong::ping_write,
              &ping_pong::pong_read>();
  }

  void pong_read() {
    C::receive_some(c_.a, bytes(pong_).subspan(pong_done_), [this](auto ec, std::size_t n) {
      if (ec || n == 0) {
        fail("async ping_pong: receive");
      }
      pong_done_ += n;
      if (pong_done_ < pong_.size()) {
        then(this, &ping_pong::pong_read);
        return;
      }
      pong_done_ = 0;
      if (!has_stamp(pong_, sequence_)) {
        fail("async ping_pong: wrong echo");
      }
      ++sequence_;
      if (steps_.next()) {
        stamp(ping_, sequence_);
        then(this, &ping_pong::ping_write);
      } else {
        then(this, &ping_pong::finish);
      }
    });
  }

  void echo_read() {
    C::receive_some(c_.b, bytes(echo_).subspan(echo_done_), [this](auto ec, std::size_t n) {
      if (n == 0 && echo_done_ == 0 && finished_) {
        return;  // the end of the stream, after the last round trip
      }
      if (ec || n == 0) {
        fail("async ping_pong: echo receive");
      }
      echo_done_ += n;
      if (echo_done_ < echo_.size()) {
        then(this, &ping_pong::echo_read);
        return;
      }
      echo_done_ = 0;
      then(this, &ping_pong::echo_write);
    });
  }

  void echo_write() {
    send_rest<&C::b, &ping_pong::echo_, &ping_pong::echo_done_, &ping_pong::echo_write,
              &ping_pong::echo_read>();
  }

  void finish() {
    finished_ = true;
    C::end_writing(c_.a);
  }

  C& c_;
  Steps& steps_;
  std::vector<std::byte> ping_;
  std::vector<std::byte> pong_;
  std::vector<std::byte> echo_;
  std::size_t ping_done_ = 0;
  std::size_t pong_done_ = 0;
  std::size_t echo_done_ = 0;
  std::uint64_t sequence_ = 0;
  bool finished_ = false;
};

/// 64-byte messages one way, one send operation each; one step per message received.
template <class C, class Steps>
class message_rate {
 public:
  static constexpr std::size_t size = 64;

  message_rate(C& contender, Steps& steps) : c_(contender), steps_(steps) {
    out_.fill(std::byte{0x33});
  }

  void start() {
    stopping_ = !steps_.next();
    then(this, &message_rate::read);
    then(this, &message_rate::write);
  }

  /// Messages the reader checked.
  [[nodiscard]] std::uint64_t received() const { return read_sequence_; }

 private:
  void write() {
    if (stopping_) {
      C::end_writing(c_.a);
      return;
    }
    if (out_done_ == 0) {
      stamp(out_, write_sequence_);
    }
    C::send_some(c_.a, const_bytes(out_).subspan(out_done_), [this](auto ec, std::size_t n) {
      if (ec) {
        fail("async message_rate: send");
      }
      out_done_ += n;
      if (out_done_ == size) {
        out_done_ = 0;
        ++write_sequence_;
      }
      then(this, &message_rate::write);
    });
  }

  void read() {
    C::receive_some(c_.b, bytes(in_).subspan(in_done_), [this](auto ec, std::size_t n) {
      if (n == 0 && in_done_ == 0 && stopping_) {
        return;  // the writer stopped and everything it sent was checked
      }
      if (ec || n == 0) {
        fail("async message_rate: receive");
      }
      in_done_ += n;
      if (in_done_ == size) {
        in_done_ = 0;
        if (!has_stamp(in_, read_sequence_)) {
          fail("async message_rate: message lost or out of order");
        }
        ++read_sequence_;
        if (!stopping_ && !steps_.next()) {
          stopping_ = true;  // the writer stops at its next completion; the rest is drained
        }
      }
      then(this, &message_rate::read);
    });
  }

  C& c_;
  Steps& steps_;
  std::array<std::byte, size> out_{};
  std::array<std::byte, size> in_{};
  std::size_t out_done_ = 0;
  std::size_t in_done_ = 0;
  std::uint64_t write_sequence_ = 0;
  std::uint64_t read_sequence_ = 0;
  bool stopping_ = false;
};

/// Sends one byte with a copy of `passed` on `sender` (a blocking stream end): sendmsg(2) with
/// a hand-built cmsghdr, the same for every contender. False if it did not go out whole.
inline bool send_one_fd(int sender, int passed) {
  constexpr std::size_t space = CMSG_SPACE(sizeof(int));
  alignas(cmsghdr) std::array<char, space> control{};
  char byte = 'x';
  iovec iov{&byte, 1};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = space;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &passed, sizeof passed);
  ssize_t n = -1;
  do {
    n = ::sendmsg(sender, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

/// What a careful hand-written receive does once the socket is readable: one recvmsg(2) of a
/// byte and one descriptor (close-on-exec on arrival), which it closes. 1: the byte and the
/// descriptor arrived, nothing cut off; 0: would block (wait again); -1: anything else.
inline int receive_one_fd(int receiver) {
  constexpr std::size_t space = CMSG_SPACE(sizeof(int));
  alignas(cmsghdr) std::array<char, space> control{};
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = space;
  ssize_t n = -1;
  do {
    n = ::recvmsg(receiver, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
  const std::size_t arrived = close_received_fds(message);
  return n == 1 && byte == 'x' && (message.msg_flags & MSG_CTRUNC) == 0 && arrived == 1 ? 1 : -1;
}

/// One byte and one descriptor per step, received asynchronously on `c.b` while `c.a`'s
/// descriptor sends synchronously.
template <class C, class Steps>
class fd_passing {
 public:
  fd_passing(C& contender, Steps& steps, int passed)
      : c_(contender), steps_(steps), passed_(passed) {}

  void start() {
    if (steps_.next()) {
      then(this, &fd_passing::step);
    }
  }

  [[nodiscard]] std::uint64_t received() const { return received_; }

 private:
  void step() {
    C::receive_fd(c_.b, [this](bool ok) {
      if (!ok) {
        fail("async fd_passing: receive");
      }
      ++received_;
      if (steps_.next()) {
        then(this, &fd_passing::step);
      }
    });
    if (!send_one_fd(c_.sender_handle(), passed_)) {
      fail("async fd_passing: sendmsg");
    }
  }

  C& c_;
  Steps& steps_;
  int passed_;
  std::uint64_t received_ = 0;
};

// ---- Contenders ------------------------------------------------------------------------------

/// Boost.Asio's own calls on `local::stream_protocol` sockets from `local::connect_pair`:
/// async_write_some / async_read_some; descriptors by hand: `async_wait(wait_read)`, then
/// recvmsg(2) (waiting again if that would block), as users write it today.
struct asio_stream {
  using end = net::local::stream_protocol::socket;

  static std::string name() { return "asio"; }

  explicit asio_stream(net::io_context& io) : a(io), b(io) {
    boost::system::error_code error;
    net::local::connect_pair(a, b, error);
    if (error) {
      fail("asio: connect_pair");
    }
    b.non_blocking(true, error);  // recvmsg(2) by hand after a wait must never block
    if (error) {
      fail("asio: non_blocking");
    }
  }

  template <class Handler>
  static void send_some(end& e, const_bytes data, Handler&& handler) {
    e.async_write_some(net::buffer(data.data(), data.size()), std::forward<Handler>(handler));
  }

  template <class Handler>
  static void receive_some(end& e, bytes buffer, Handler&& handler) {
    e.async_read_some(net::buffer(buffer.data(), buffer.size()), std::forward<Handler>(handler));
  }

  template <class Handler>
  static void receive_fd(end& e, Handler&& handler) {
    e.async_wait(net::socket_base::wait_read, [&e, handler = std::forward<Handler>(handler)](
                                                  boost::system::error_code error) mutable {
      if (error) {
        handler(false);
        return;
      }
      const int got = receive_one_fd(e.native_handle());
      if (got == 0) {
        // Woken for nothing: wait again (through a pointer, for the reason `then` gives).
        void (*again)(end&, decltype(handler)&&) = &receive_fd<decltype(handler)>;
        again(e, std::move(handler));
        return;
      }
      handler(got == 1);
    });
  }

  static void end_writing(end& e) {
    boost::system::error_code error;
    e.shutdown(net::socket_base::shutdown_send, error);
  }

  [[nodiscard]] int sender_handle() { return a.native_handle(); }

  end a;
  end b;
};

/// The library's asynchronous layer (<socketpair/asio.hpp>) on a stream pair from
/// `socket_pair::create`: async_send / async_receive, async_receive_with_fds<1>.
struct sockpair_stream {
  using end = sockpair::asio::async_socket<sockpair::stream>;

  static std::string name() { return "sockpair"; }

  explicit sockpair_stream(net::io_context& io) : sockpair_stream(make_ends(io)) {}

  template <class Handler>
  static void send_some(end& e, const_bytes data, Handler&& handler) {
    e.async_send(data, std::forward<Handler>(handler));
  }

  template <class Handler>
  static void receive_some(end& e, bytes buffer, Handler&& handler) {
    e.async_receive(buffer, std::forward<Handler>(handler));
  }

  template <class Handler>
  static void receive_fd(end& e, Handler&& handler) {
    e.template async_receive_with_fds<1>(
        std::span<std::byte>(fd_byte()),
        [handler = std::forward<Handler>(handler)](
            std::error_code error, sockpair::received<sockpair::inplace_fd_vector<1>> got) mutable {
          // The descriptor closes with `got`.
          handler(!error && got.size == 1 && got.fds.size() == 1 && fd_byte()[0] == std::byte{'x'});
        });
  }

  static void end_writing(end& e) {
    static_cast<void>(e.next_layer().shutdown(sockpair::shutdown_how::write));
  }

  /// `a`'s descriptor (non-blocking, as async_socket makes it): the descriptor case sends on
  /// it synchronously, which a 1-byte message on an emptied socket never finds full.
  [[nodiscard]] int sender_handle() const { return sender_handle_; }

 private:
  struct ends {
    end a;
    end b;
    int sender_handle;
  };

  static ends make_ends(net::io_context& io) {
    auto pair = sockpair::socket_pair<sockpair::stream>::create();
    if (!pair) {
      fail("sockpair: socket_pair::create");
    }
    auto [near, far] = std::move(pair).assume_value();
    const int sender_handle = near.native_handle();
    auto bound_a = end::create(io, std::move(near));
    auto bound_b = end::create(io, std::move(far));
    if (!bound_a || !bound_b) {
      fail("sockpair: async_socket::create");
    }
    return {std::move(bound_a).assume_value(), std::move(bound_b).assume_value(), sender_handle};
  }

  explicit sockpair_stream(ends&& made)
      : a(std::move(made.a)), b(std::move(made.b)), sender_handle_(made.sender_handle) {}

 public:
  end a;
  end b;

 private:
  /// The byte the descriptor case receives into (one thread, one receive at a time).
  static std::array<std::byte, 1>& fd_byte() {
    static std::array<std::byte, 1> byte{};
    return byte;
  }

  int sender_handle_ = -1;
};

/// `sockpair_stream` with both ends refusing descriptors (`async_socket::refuse_descriptors`,
/// SO_PASSRIGHTS off, Linux >= 6.16), so that async_receive reads with recv(2), as Asio does:
/// the ping-pong and message cases only (a descriptor cannot reach these ends).
struct sockpair_refusing : sockpair_stream {
  static std::string name() { return "sockpair_refusing"; }

  explicit sockpair_refusing(net::io_context& io) : sockpair_stream(io) {
    if (!a.refuse_descriptors() || !b.refuse_descriptors()) {
      fail("sockpair_refusing: refuse_descriptors (SO_PASSRIGHTS needs Linux >= 6.16)");
    }
  }

  /// Whether this kernel lets an end refuse descriptors: the case is left out where not.
  static bool available() {
    auto pair = sockpair::socket_pair<sockpair::stream>::create();
    return pair && sockpair::set_accept_descriptors(pair.assume_value().first, false);
  }
};

}  // namespace bench::async
