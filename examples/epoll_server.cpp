// One raw epoll(7) loop serving several socket pairs: the non-blocking core driven by hand.
//
// The seam (docs/io.md, "Driving the library from an event loop"): set an end non-blocking,
// call the library's own operations, and when one fails with `operation_would_block`, wait
// for readiness and call it again. Resumable objects keep their progress across the wait:
// here `frame_reader` (a partial frame stays buffered) and `frame_writer` (unsent bytes stay
// queued).
//
// The parent is the server; it forks one client per connection. Each client holds two ends:
// - a stream carrying length-prefixed frames: a thread sends every request, the main thread
//   reads every reply. A request asks for `size` bytes; the reply carries exactly those bytes,
//   so replies (up to 192 KiB) outrun the socket buffer and the server must hold back: it
//   stops reading requests while `flush_threshold` bytes are queued, and waits for EPOLLOUT;
// - a seqpacket pair for descriptors: the client asks for a descriptor, the server opens a
//   pipe, writes a token into it and passes the read end with `send_with_fds`.
//
// Exits 0 only if every client checked every reply and every token and exited 0, and the
// server closed every descriptor it opened (its descriptor count is the same before and
// after).
#include <socketpair/ancillary.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using stream_end = sockpair::socket<sockpair::stream>;
using message_end = sockpair::socket<sockpair::seqpacket>;

constexpr int client_count = 4;
constexpr std::uint32_t requests_per_client = 24;
constexpr std::uint32_t descriptor_requests_per_client = 8;

// ---- The protocol --------------------------------------------------------------------------

/// The size of the reply to request `seq`: from 0 bytes up to 192 KiB.
std::uint32_t reply_size(std::uint32_t seq) {
  return (seq % 8 == 0) ? 0 : (seq * 40'009U) % (std::uint32_t{192} * 1024);
}

/// Byte `index` of the reply to request `seq` of client `client`.
std::byte reply_byte(std::uint32_t client, std::uint32_t seq, std::size_t index) {
  return static_cast<std::byte>((client * 31U + seq * 7U + index) & 0xFFU);
}

std::array<std::byte, 8> encode(std::uint32_t a, std::uint32_t b) {
  std::array<std::byte, 8> out{};
  std::memcpy(out.data(), &a, 4);
  std::memcpy(out.data() + 4, &b, 4);
  return out;
}

std::pair<std::uint32_t, std::uint32_t> decode(std::span<const std::byte> in) {
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::memcpy(&a, in.data(), 4);
  std::memcpy(&b, in.data() + 4, 4);
  return {a, b};
}

std::string token(std::uint32_t client, std::uint32_t seq) {
  return "token " + std::to_string(client) + "/" + std::to_string(seq);
}

/// Open descriptors of this process below 4096 (fcntl(2) probes: thread-safe, unlike readdir).
int count_open_descriptors() {
  int count = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) {
      ++count;
    }
  }
  return count;
}

bool is_would_block(const std::error_code& error) {
  return error == std::errc::operation_would_block;
}

// ---- The client (a forked process, blocking calls) -------------------------------------------

/// Asks for descriptors one at a time and checks the token read from each.
bool ask_for_descriptors(std::uint32_t client, message_end& sock) {
  for (std::uint32_t seq = 0; seq < descriptor_requests_per_client; ++seq) {
    if (!sock.send(encode(client, seq))) {
      return false;
    }
    std::array<std::byte, 8> reply{};
    auto got = sockpair::receive_with_fds<1>(sock, reply);
    if (!got || got.assume_value().size != reply.size() || got.assume_value().fds.size() != 1 ||
        decode(reply) != std::pair{client, seq}) {
      std::fprintf(stderr, "client %u: bad descriptor reply %u\n", client, seq);
      return false;
    }
    const std::string expected = token(client, seq);
    std::string text(expected.size() + 1, '\0');  // one more: the pipe must end after the token
    const int pipe_end = got.assume_value().fds[0].get();
    std::size_t have = 0;
    for (;;) {
      const ssize_t n = ::read(pipe_end, text.data() + have, text.size() - have);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      have += static_cast<std::size_t>(n);
    }
    text.resize(have);
    if (text != expected) {
      std::fprintf(stderr, "client %u: pipe %u held \"%s\"\n", client, seq, text.c_str());
      return false;
    }
  }
  return sock.shutdown(sockpair::shutdown_how::write).has_value();
}

int run_client(std::uint32_t client, stream_end& frames, message_end& descriptors) {
  bool sent_ok = true;
  bool descriptors_ok = true;
  std::thread sender([&] {
    sockpair::frame_writer<stream_end> out(frames);
    for (std::uint32_t seq = 0; seq < requests_per_client && sent_ok; ++seq) {
      sent_ok = out.write(encode(seq, reply_size(seq))).has_value();
    }
    sent_ok = sent_ok && out.flush().has_value() &&
              frames.shutdown(sockpair::shutdown_how::write).has_value();
    descriptors_ok = ask_for_descriptors(client, descriptors);
  });

  sockpair::frame_reader<stream_end> in(frames);
  std::uint32_t replies = 0;
  bool replies_ok = true;
  for (;;) {
    auto frame = in.read();
    if (!frame) {
      std::fprintf(stderr, "client %u: read: %s\n", client, frame.error().message().c_str());
      replies_ok = false;
      break;
    }
    if (!frame.assume_value()) {
      break;  // the server closed after the last reply
    }
    const std::span<const std::byte> payload = *frame.assume_value();
    bool good = replies < requests_per_client && payload.size() == reply_size(replies);
    for (std::size_t i = 0; good && i < payload.size(); ++i) {
      good = payload[i] == reply_byte(client, replies, i);
    }
    if (!good) {
      std::fprintf(stderr, "client %u: reply %u is wrong\n", client, replies);
      replies_ok = false;
      break;
    }
    ++replies;
  }
  sender.join();
  return (sent_ok && descriptors_ok && replies_ok && replies == requests_per_client) ? 0 : 1;
}

// ---- The server (this process, one epoll loop, every end non-blocking) -------------------------

/// One client's two ends on the server's side and what is in flight on them.
struct connection {
  connection(std::uint32_t id, stream_end stream, message_end seqpacket)
      : client(id), frames(std::move(stream)), descriptors(std::move(seqpacket)) {}

  std::uint32_t client;
  stream_end frames;
  message_end descriptors;
  sockpair::frame_reader<stream_end> in{frames};
  sockpair::frame_writer<stream_end> out{frames};
  bool requests_ended = false;  // the client shut down its side of the stream
  bool frames_open = true;
  bool descriptors_open = true;
  /// A descriptor reply the socket had no room for: sent again on EPOLLOUT.
  std::optional<std::pair<std::array<std::byte, 8>, sockpair::unique_fd>> pending;
};

enum channel : std::uint64_t { frames_channel = 0, descriptors_channel = 1 };

class server {
 public:
  explicit server(int epoll_fd) : epoll_(epoll_fd) {}

  /// Registers both ends of `c` with the loop.
  bool add(connection& c, std::size_t index) {
    return watch(EPOLL_CTL_ADD, c.frames.native_handle(), index, frames_channel, EPOLLIN) &&
           watch(EPOLL_CTL_ADD, c.descriptors.native_handle(), index, descriptors_channel, EPOLLIN);
  }

  /// Serves the frames channel until it would block; then watches for what it waits on.
  bool serve_frames(connection& c, std::size_t index) {
    for (;;) {
      if (c.out.pending_bytes() >= c.out.options().flush_threshold) {
        // Hold back: read no request until the queued replies have gone out.
        if (!flush(c)) {
          return false;
        }
        if (c.out.pending_bytes() >= c.out.options().flush_threshold) {
          ++held_back_;
          return watch(EPOLL_CTL_MOD, c.frames.native_handle(), index, frames_channel, EPOLLOUT);
        }
      }
      if (c.requests_ended) {
        break;
      }
      auto frame = c.in.read();
      if (!frame) {
        if (is_would_block(frame.error())) {
          break;  // nothing consumed: read() resumes when the stream is readable again
        }
        return fail(c, "read", frame.error());
      }
      if (!frame.assume_value()) {
        c.requests_ended = true;
      } else if (!answer(c, *frame.assume_value())) {
        return false;
      }
    }
    if (!flush(c)) {
      return false;
    }
    if (c.out.pending_bytes() != 0) {
      return watch(EPOLL_CTL_MOD, c.frames.native_handle(), index, frames_channel,
                   c.requests_ended ? EPOLLOUT : EPOLLIN | EPOLLOUT);
    }
    if (c.requests_ended) {
      return close_frames(c);  // every reply is out: the client reads to the end of stream
    }
    return watch(EPOLL_CTL_MOD, c.frames.native_handle(), index, frames_channel, EPOLLIN);
  }

  /// Serves the descriptors channel until it would block.
  bool serve_descriptors(connection& c, std::size_t index) {
    for (;;) {
      if (c.pending) {
        auto sent =
            sockpair::send_with_fds(c.descriptors, c.pending->first, {c.pending->second.get()});
        if (!sent) {
          if (is_would_block(sent.error())) {
            return watch(EPOLL_CTL_MOD, c.descriptors.native_handle(), index, descriptors_channel,
                         EPOLLOUT);
          }
          return fail(c, "send_with_fds", sent.error());
        }
        c.pending.reset();  // closes our copy of the pipe's read end
      }
      std::array<std::byte, 8> request{};
      auto got = c.descriptors.receive_message(request);
      if (!got) {
        if (is_would_block(got.error())) {
          return watch(EPOLL_CTL_MOD, c.descriptors.native_handle(), index, descriptors_channel,
                       EPOLLIN);
        }
        return fail(c, "receive_message", got.error());
      }
      if (got.assume_value().end_of_stream) {
        return close_descriptors(c);
      }
      if (got.assume_value().size != request.size()) {
        std::fprintf(stderr, "server: a request of %zu bytes\n", got.assume_value().size);
        return false;
      }
      const auto [client, seq] = decode(request);
      std::array<int, 2> pipe_fds{};
      if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
        std::perror("pipe2");
        return false;
      }
      sockpair::unique_fd read_end(pipe_fds[0]);
      const sockpair::unique_fd write_end(pipe_fds[1]);
      const std::string text = token(client, seq);
      if (::write(write_end.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        std::perror("write to pipe");
        return false;
      }
      c.pending.emplace(request, std::move(read_end));  // the write end closes here
    }
  }

  [[nodiscard]] bool finished() const { return open_ == 0; }
  /// How often a connection stopped reading requests until its replies had gone out.
  [[nodiscard]] std::size_t held_back() const { return held_back_; }
  void opened(int channels) { open_ += channels; }

 private:
  /// Queues the reply to `request`. Cannot fail with would-block: `serve_frames` reads a
  /// request only while fewer than `flush_threshold` bytes are queued.
  bool answer(connection& c, std::span<const std::byte> request) {
    const auto [seq, size] = decode(request);
    reply_.resize(size);
    for (std::size_t i = 0; i < size; ++i) {
      reply_[i] = reply_byte(c.client, seq, i);
    }
    if (auto queued = c.out.write(reply_); !queued) {
      return fail(c, "write", queued.error());
    }
    return true;
  }

  /// Sends what the socket takes of the queued replies: false only on a real error.
  static bool flush(connection& c) {
    auto flushed = c.out.flush();
    if (!flushed && !is_would_block(flushed.error())) {
      return fail(c, "flush", flushed.error());
    }
    return true;
  }

  [[nodiscard]] bool watch(int op, int fd, std::size_t index, channel which,
                           std::uint32_t events) const {
    epoll_event event{};
    event.events = events;
    event.data.u64 = (static_cast<std::uint64_t>(index) << 1U) | which;
    if (::epoll_ctl(epoll_, op, fd, &event) != 0) {
      std::perror("epoll_ctl");
      return false;
    }
    return true;
  }

  bool close_frames(connection& c) {
    c.frames_open = false;
    --open_;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.frames.native_handle(), nullptr);
    return c.frames.close().has_value();
  }

  bool close_descriptors(connection& c) {
    c.descriptors_open = false;
    --open_;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.descriptors.native_handle(), nullptr);
    return c.descriptors.close().has_value();
  }

  static bool fail(const connection& c, const char* what, const std::error_code& error) {
    std::fprintf(stderr, "server: client %u: %s: %s\n", c.client, what, error.message().c_str());
    return false;
  }

  int epoll_;
  int open_ = 0;
  std::size_t held_back_ = 0;
  std::vector<std::byte> reply_;
};

/// Runs the loop until every channel of every connection has closed. False on any failure,
/// or when nothing happens for 60 s (a hang). `held_back`: see `server::held_back()`.
bool run_server(std::vector<std::unique_ptr<connection>>& connections, std::size_t& held_back) {
  const sockpair::unique_fd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) {
    std::perror("epoll_create1");
    return false;
  }
  server loop(epoll_fd.get());
  for (std::size_t i = 0; i < connections.size(); ++i) {
    if (!connections[i]->frames.set_nonblocking(true) ||
        !connections[i]->descriptors.set_nonblocking(true) || !loop.add(*connections[i], i)) {
      return false;
    }
    loop.opened(2);
  }
  std::array<epoll_event, 16> events{};
  while (!loop.finished()) {
    const int n = ::epoll_wait(epoll_fd.get(), events.data(), events.size(), 60'000);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      std::fprintf(stderr, "server: epoll_wait: %s\n", n == 0 ? "no event for 60 s" : "failed");
      return false;
    }
    for (const epoll_event& event : std::span(events).first(static_cast<std::size_t>(n))) {
      const std::size_t index = event.data.u64 >> 1U;
      connection& c = *connections[index];
      const bool ok = (event.data.u64 & 1U) == frames_channel
                          ? (!c.frames_open || loop.serve_frames(c, index))
                          : (!c.descriptors_open || loop.serve_descriptors(c, index));
      if (!ok) {
        return false;
      }
    }
  }
  held_back = loop.held_back();
  return true;
}

/// Forks one client per entry of `client_ends`; each child keeps its own two ends only (the
/// server's ends and the other clients' would hold the connections open), and the parent
/// closes its copies. False if a fork failed.
bool start_clients(std::vector<std::unique_ptr<connection>>& connections,
                   std::vector<std::pair<stream_end, message_end>>& client_ends,
                   std::vector<pid_t>& children) {
  for (std::uint32_t client = 0; client < client_ends.size(); ++client) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return false;
    }
    if (pid == 0) {
      connections.clear();
      for (std::uint32_t other = 0; other < client_ends.size(); ++other) {
        if (other != client) {
          client_ends[other] = {};
        }
      }
      const int code = run_client(client, client_ends[client].first, client_ends[client].second);
      client_ends.clear();
      std::fflush(nullptr);
      ::_exit(code);
    }
    children.push_back(pid);
    client_ends[client] = {};
  }
  return true;
}

/// Waits for every child: true if each exited 0.
bool reap(const std::vector<pid_t>& children) {
  bool ok = true;
  for (const pid_t pid : children) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "client process %d failed (status %d)\n", static_cast<int>(pid), status);
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int main() {
  const int descriptors_before = count_open_descriptors();
  bool ok = true;
  std::vector<pid_t> children;
  std::size_t held_back = 0;
  {
    std::vector<std::unique_ptr<connection>> connections;
    std::vector<std::pair<stream_end, message_end>> client_ends;
    for (std::uint32_t client = 0; client < client_count; ++client) {
      auto frames = sockpair::socket_pair<sockpair::stream>::create();
      auto descriptors = sockpair::socket_pair<sockpair::seqpacket>::create();
      if (!frames || !descriptors) {
        std::fprintf(stderr, "socketpair failed\n");
        return 1;
      }
      auto [server_frames, client_frames] = std::move(frames).assume_value();
      auto [server_descriptors, client_descriptors] = std::move(descriptors).assume_value();
      connections.push_back(std::make_unique<connection>(client, std::move(server_frames),
                                                         std::move(server_descriptors)));
      client_ends.emplace_back(std::move(client_frames), std::move(client_descriptors));
    }
    ok = start_clients(connections, client_ends, children) && run_server(connections, held_back);
  }
  ok = reap(children) && ok;
  const int descriptors_after = count_open_descriptors();
  if (descriptors_after != descriptors_before) {
    std::fprintf(stderr, "server: %d descriptors open before, %d after\n", descriptors_before,
                 descriptors_after);
    ok = false;
  }
  std::printf(
      "%d clients: %u framed replies and %u passed descriptors each; reading held back %zu "
      "times for a full socket; %s\n",
      client_count, requests_per_client, descriptor_requests_per_client, held_back,
      ok ? "every check passed" : "FAILED");
  return ok ? 0 : 1;
}
