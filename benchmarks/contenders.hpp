// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The contenders every case runs against, behind one interface, so that each case runs the
// same protocol for all of them and differs only in the calls that move the bytes:
//
//   pipe_channel                 two pipe2(2) pipes (one per direction); read(2)/write(2)
//   raw_socketpair<Type>         socketpair(2); send(2)/recv(2)
//   sockpair_channel<Type>       sockpair::socket_pair<Type>; send_all/receive_exact on a
//                                stream, send/receive on a message socket
//   asio_channel<Type>           Boost.Asio local sockets, local::connect_pair (seqpacket:
//                                socketpair(2) + assign, Asio 1.81 has no local seqpacket);
//                                synchronous write_some/read_some, send/receive on messages
//
// `make()` returns two connected ends. Each end has
//   bool send_payload(const_bytes)  stream: all of it; message socket: one message
//   int receive_payload(bytes)      1: `buffer` is filled (stream) or holds one message of
//                                   exactly its size; 0: the peer called end_writing()
//                                   first; anything else aborts the benchmark
//   void end_writing()              the peer's next receive_payload returns 0
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "benchmarks/asio.hpp"
#include "benchmarks/support.hpp"

namespace bench {

/// How `make()` sets up a channel.
struct channel_options {
  /// Kernel buffer per direction in bytes: SO_SNDBUF and SO_RCVBUF on sockets, F_SETPIPE_SZ
  /// on pipes. 0 keeps the kernel's default.
  int buffer_size = 0;
};

/// The tag's name as used in benchmark names: "stream", "seqpacket", "dgram".
template <class Type>
[[nodiscard]] std::string type_name() {
  if constexpr (std::is_same_v<Type, sockpair::stream>) {
    return "stream";
  } else if constexpr (std::is_same_v<Type, sockpair::seqpacket>) {
    return "seqpacket";
  } else {
    return "dgram";
  }
}

inline void set_socket_buffers(int socket, int size) {
  if (size > 0 && (::setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0 ||
                   ::setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)) {
    fail("setsockopt(SO_SNDBUF/SO_RCVBUF)");
  }
}

// ---- pipe(2) ------------------------------------------------------------------------------

class pipe_end {
 public:
  pipe_end(fd in, fd out) : in_(std::move(in)), out_(std::move(out)) {}

  bool send_payload(const_bytes data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(out_.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  int receive_payload(bytes buffer) {
    std::size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n = ::read(in_.get(), buffer.data() + done, buffer.size() - done);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        fail("read(pipe)");
      }
      if (n == 0) {
        if (done == 0) {
          return 0;
        }
        fail("pipe: EOF in the middle of a message");
      }
      done += static_cast<std::size_t>(n);
    }
    return 1;
  }

  void end_writing() { out_.reset(); }

 private:
  fd in_;
  fd out_;
};

struct pipe_channel {
  static std::string name() { return "pipe"; }

  static std::pair<pipe_end, pipe_end> make(channel_options options = {}) {
    std::array<int, 2> forward{};
    std::array<int, 2> backward{};
    if (::pipe2(forward.data(), O_CLOEXEC) != 0 || ::pipe2(backward.data(), O_CLOEXEC) != 0) {
      fail("pipe2");
    }
    if (options.buffer_size > 0) {
      for (const int p : {forward[1], backward[1]}) {
        if (::fcntl(p, F_SETPIPE_SZ, options.buffer_size) < options.buffer_size) {
          fail("fcntl(F_SETPIPE_SZ)");
        }
      }
    }
    return {pipe_end(fd(backward[0]), fd(forward[1])), pipe_end(fd(forward[0]), fd(backward[1]))};
  }
};

// ---- socketpair(2) with send(2)/recv(2) ---------------------------------------------------

template <class Type>
class raw_socket_end {
 public:
  explicit raw_socket_end(fd socket) : socket_(std::move(socket)) {}

  bool send_payload(const_bytes data) {
    if constexpr (Type::message_oriented) {
      ssize_t n = -1;
      do {
        n = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      } while (n < 0 && errno == EINTR);
      return n == static_cast<ssize_t>(data.size());
    } else {
      std::size_t done = 0;
      while (done < data.size()) {
        const ssize_t n =
            ::send(socket_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          return false;
        }
        done += static_cast<std::size_t>(n);
      }
      return true;
    }
  }

  int receive_payload(bytes buffer) {
    if constexpr (Type::message_oriented) {
      ssize_t n = -1;
      do {
        n = ::recv(socket_.get(), buffer.data(), buffer.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        return 0;
      }
      if (n != static_cast<ssize_t>(buffer.size())) {
        fail("recv: message of the wrong size");
      }
      return 1;
    } else {
      std::size_t done = 0;
      while (done < buffer.size()) {
        const ssize_t n = ::recv(socket_.get(), buffer.data() + done, buffer.size() - done, 0);
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          fail("recv");
        }
        if (n == 0) {
          if (done == 0) {
            return 0;
          }
          fail("recv: EOF in the middle of a message");
        }
        done += static_cast<std::size_t>(n);
      }
      return 1;
    }
  }

  void end_writing() {
    if constexpr (std::is_same_v<Type, sockpair::dgram>) {
      static_cast<void>(::send(socket_.get(), nullptr, 0, MSG_NOSIGNAL));  // empty datagram
    } else {
      ::shutdown(socket_.get(), SHUT_WR);
    }
  }

 private:
  fd socket_;
};

template <class Type>
struct raw_socketpair {
  static std::string name() { return "raw_socketpair"; }

  static std::pair<raw_socket_end<Type>, raw_socket_end<Type>> make(channel_options options = {}) {
    std::array<int, 2> fds{};
    if (::socketpair(AF_UNIX, Type::value | SOCK_CLOEXEC, 0, fds.data()) != 0) {
      fail("socketpair");
    }
    set_socket_buffers(fds[0], options.buffer_size);
    set_socket_buffers(fds[1], options.buffer_size);
    return {raw_socket_end<Type>(fd(fds[0])), raw_socket_end<Type>(fd(fds[1]))};
  }
};

// ---- this library -------------------------------------------------------------------------

template <class Type>
class sockpair_end {
 public:
  explicit sockpair_end(sockpair::socket<Type> socket) : socket_(std::move(socket)) {}

  bool send_payload(const_bytes data) {
    if constexpr (Type::message_oriented) {
      const auto sent = socket_.send(data);
      return sent && sent.value() == data.size();
    } else {
      return static_cast<bool>(socket_.send_all(data));
    }
  }

  int receive_payload(bytes buffer) {
    if constexpr (Type::message_oriented) {
      const auto got = socket_.receive(buffer);
      if (!got) {
        fail(("receive: " + got.error().message()).c_str());
      }
      if (got.value() == 0) {
        return 0;
      }
      if (got.value() != buffer.size()) {
        fail("receive: message of the wrong size");
      }
      return 1;
    } else {
      sockpair::incoming in(buffer);
      const auto got = socket_.receive_exact(in);
      if (!got) {
        if (got.error() == sockpair::errc::unexpected_eof && in.done() == 0) {
          return 0;
        }
        fail(("receive_exact: " + got.error().message()).c_str());
      }
      return 1;
    }
  }

  void end_writing() {
    if constexpr (std::is_same_v<Type, sockpair::dgram>) {
      static_cast<void>(socket_.send(const_bytes{}));  // empty datagram
    } else {
      static_cast<void>(socket_.shutdown(sockpair::shutdown_how::write));
    }
  }

  [[nodiscard]] sockpair::socket<Type>& socket() { return socket_; }

 private:
  sockpair::socket<Type> socket_;
};

/// Sets the kernel buffers of a library socket with the library's own options.
template <class Socket>
void set_library_buffers(Socket& socket, int size) {
  if (size <= 0) {
    return;
  }
  const auto wanted = static_cast<std::size_t>(size);
  if (!socket.set_send_buffer_size(wanted) || !socket.set_receive_buffer_size(wanted)) {
    fail("set_send_buffer_size/set_receive_buffer_size");
  }
}

template <class Type>
struct sockpair_channel {
  static std::string name() { return "sockpair"; }

  static std::pair<sockpair_end<Type>, sockpair_end<Type>> make(channel_options options = {}) {
    auto pair = sockpair::socket_pair<Type>::create();
    if (!pair) {
      fail("socket_pair::create");
    }
    auto [first, second] = std::move(pair).value();
    set_library_buffers(first, options.buffer_size);
    set_library_buffers(second, options.buffer_size);
    return {sockpair_end<Type>(std::move(first)), sockpair_end<Type>(std::move(second))};
  }
};

// ---- Boost.Asio ---------------------------------------------------------------------------

/// The one io_context the Asio sockets belong to (synchronous calls never run it).
inline boost::asio::io_context& asio_context() {
  static boost::asio::io_context context;
  return context;
}

template <class Type>
struct asio_socket {
  using type = boost::asio::local::stream_protocol::socket;
};
template <>
struct asio_socket<sockpair::dgram> {
  using type = boost::asio::local::datagram_protocol::socket;
};
template <>
struct asio_socket<sockpair::seqpacket> {
  using type = boost::asio::generic::seq_packet_protocol::socket;
};

template <class Type>
class asio_end {
 public:
  using socket_type = typename asio_socket<Type>::type;

  explicit asio_end(socket_type socket) : socket_(std::move(socket)) {}

  bool send_payload(const_bytes data) {
    boost::system::error_code error;
    if constexpr (std::is_same_v<Type, sockpair::stream>) {
      std::size_t done = 0;
      while (done < data.size()) {
        done +=
            socket_.write_some(boost::asio::buffer(data.data() + done, data.size() - done), error);
        if (error) {
          return false;
        }
      }
      return true;
    } else {
      const std::size_t n = socket_.send(boost::asio::buffer(data.data(), data.size()), 0, error);
      return !error && n == data.size();
    }
  }

  int receive_payload(bytes buffer) {
    boost::system::error_code error;
    if constexpr (std::is_same_v<Type, sockpair::stream>) {
      std::size_t done = 0;
      while (done < buffer.size()) {
        done += socket_.read_some(boost::asio::buffer(buffer.data() + done, buffer.size() - done),
                                  error);
        if (error == boost::asio::error::eof && done == 0) {
          return 0;
        }
        if (error) {
          fail(("read_some: " + error.message()).c_str());
        }
      }
      return 1;
    } else {
      std::size_t n = 0;
      if constexpr (std::is_same_v<Type, sockpair::seqpacket>) {
        boost::asio::socket_base::message_flags out_flags = 0;
        n = socket_.receive(boost::asio::buffer(buffer.data(), buffer.size()), 0, out_flags, error);
      } else {
        n = socket_.receive(boost::asio::buffer(buffer.data(), buffer.size()), 0, error);
      }
      if ((error == boost::asio::error::eof || !error) && n == 0) {
        return 0;
      }
      if (error) {
        fail(("receive: " + error.message()).c_str());
      }
      if (n != buffer.size()) {
        fail("receive: message of the wrong size");
      }
      return 1;
    }
  }

  void end_writing() {
    boost::system::error_code error;
    if constexpr (std::is_same_v<Type, sockpair::dgram>) {
      socket_.send(boost::asio::const_buffer(), 0, error);  // empty datagram
    } else {
      socket_.shutdown(boost::asio::socket_base::shutdown_send, error);
    }
  }

  [[nodiscard]] socket_type& socket() { return socket_; }

 private:
  socket_type socket_;
};

template <class Type>
struct asio_channel {
  static std::string name() { return "asio"; }

  using socket_type = typename asio_socket<Type>::type;

  static std::pair<asio_end<Type>, asio_end<Type>> make(channel_options options = {}) {
    socket_type first(asio_context());
    socket_type second(asio_context());
    boost::system::error_code error;
    if constexpr (std::is_same_v<Type, sockpair::seqpacket>) {
      std::array<int, 2> fds{};
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds.data()) != 0) {
        fail("socketpair");
      }
      const boost::asio::generic::seq_packet_protocol protocol(AF_UNIX, 0);
      first.assign(protocol, fds[0], error);
      if (!error) {
        second.assign(protocol, fds[1], error);
      }
    } else {
      boost::asio::local::connect_pair(first, second, error);
    }
    if (error) {
      fail(("asio connect_pair: " + error.message()).c_str());
    }
    if (options.buffer_size > 0) {
      for (socket_type* s : {&first, &second}) {
        s->set_option(boost::asio::socket_base::send_buffer_size(options.buffer_size), error);
        if (!error) {
          s->set_option(boost::asio::socket_base::receive_buffer_size(options.buffer_size), error);
        }
        if (error) {
          fail(("asio set_option: " + error.message()).c_str());
        }
      }
    }
    return {asio_end<Type>(std::move(first)), asio_end<Type>(std::move(second))};
  }
};

}  // namespace bench
