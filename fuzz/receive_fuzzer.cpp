// libFuzzer target for the receive paths, over a REAL socket pair.
//
// The input is a script. Its first two bytes choose the pair and the receiver's setup; then
// each step is an opcode byte and its operands:
//
//   byte 0   kind: 0 stream, 1 seqpacket, 2 dgram, 3 stream read through frame_reader
//   byte 1   receiver flags: bit 0 SO_PASSCRED, bit 1 SO_PASSPIDFD, bit 2 close-on-exec off
//            for received descriptors; framing: bits 3-7 pick the reader's max frame size
//            and read size
//   steps    op % 8:
//     0  peer sends a message: u16 size, u8 descriptor count (% 254), u8 with credentials;
//        the payload is stamped with a running counter (raw sendmsg(2), non-blocking)
//     1  peer sends raw bytes taken from the input: u8 length, then that many bytes
//     2  peer shuts down its writing side
//     3  peer closes its end
//     4  receiver call: u8 which API, u16 buffer size; see `receive_step`
//     5  receiver call as 4, with RLIMIT_NOFILE lowered so that only u8 % 4 descriptors can
//        be created during the call (EMFILE on the receive path)
//     6  peer sends a well-formed frame: u16 payload size (framing kind only; else as 0)
//     7  receiver drains everything it can (as 4, repeated until it would block)
//
// The receiver's socket is non-blocking, so a call never waits. After every call the
// invariants are checked and a violation aborts (libFuzzer reports it as a crash):
//   - the error, if any, is one the call documents for that situation;
//   - data arrives in order, whole, and equal to what the peer sent (a model of the queue);
//     message sockets: truncation consumes exactly one message; framing: frames equal an
//     independent parse of the bytes sent;
//   - every received descriptor is a copy of the one the peer sent; after the results are
//     dropped the process's descriptor count is back to where it was; and at the end, once
//     everything is closed, no copy of the passed descriptor survives anywhere.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "fuzz/fuzz_support.hpp"

namespace {

// Counters printed at exit by the corpus driver and kept across inputs for the record.
struct totals {
  unsigned long long inputs = 0;
  unsigned long long calls = 0;
  unsigned long long bytes_received = 0;
  unsigned long long descriptors_received = 0;
};
totals counted;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): the tally

using sockpair::fuzzing::count_open_fds;
using sockpair::fuzzing::require;
using sockpair::fuzzing::script;

enum class kind { stream, seqpacket, dgram, framed };

// What the peer has queued that the receiver has not consumed yet.
struct queued_message {
  std::vector<std::byte> data;
  std::size_t fds = 0;
};

struct same_file_as {
  dev_t dev;
  ino_t ino;
  bool operator()(int fd) const {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
  }
};

class session {
 public:
  session(kind k, std::uint8_t flags) : kind_(k), flags_(flags) {}
  ~session() { close_all(); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  session(session&&) = delete;
  session& operator=(session&&) = delete;

  // Runs the script; returns false when the setup could not be made (not a failure).
  bool run(script& s) {
    if (!setup()) {
      return false;
    }
    baseline_ = count_open_fds();
    for (int steps = 0; !s.done() && steps < 64; ++steps) {
      step(s);
    }
    finish();
    return true;
  }

 private:
  [[nodiscard]] bool is_stream() const { return kind_ == kind::stream || kind_ == kind::framed; }

  template <class Type>
  bool make(std::optional<sockpair::socket<Type>>& receiver) {
    auto pair = sockpair::socket_pair<Type>::create({.nonblocking = true});
    if (!pair) {
      return false;
    }
    receiver.emplace(std::move(pair.value().first));
    peer_ = pair.value().second.release();
    return true;
  }

  bool setup() {
    bool made = false;
    switch (kind_) {
      case kind::stream:
      case kind::framed:
        made = make(stream_);
        break;
      case kind::seqpacket:
        made = make(seqpacket_);
        break;
      case kind::dgram:
        made = make(dgram_);
        break;
    }
    if (!made) {
      return false;
    }
    // A bigger send buffer on the peer lets messages up to 64 KiB through.
    const int big = 256 * 1024;
    ::setsockopt(peer_, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    const int on = 1;
    if ((flags_ & 1) != 0) {
      ::setsockopt(receiver_fd(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    }
    if ((flags_ & 2) != 0) {
      ::setsockopt(receiver_fd(), SOL_SOCKET, 76 /* SO_PASSPIDFD */, &on, sizeof on);
    }
    std::array<int, 2> pipe_fds{-1, -1};
    if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
      return false;
    }
    passed_read_ = pipe_fds[0];
    passed_ = pipe_fds[1];
    struct stat st {};
    ::fstat(passed_, &st);
    is_passed_ = {st.st_dev, st.st_ino};
    if (kind_ == kind::framed) {
      constexpr std::array<std::size_t, 8> max_sizes = {
          0, 1, 4, 100, 4096, 65536, std::size_t{1} << 20, 7};
      constexpr std::array<std::size_t, 4> read_sizes = {1, 3, 64, 4096};
      reader_options_.max_frame_size = max_sizes[(flags_ >> 3) & 7];
      reader_options_.read_size = read_sizes[(flags_ >> 6) & 3];
      reader_ = std::make_unique<sockpair::frame_reader<sockpair::socket<sockpair::stream>>>(
          *stream_, reader_options_);
    }
    return true;
  }

  [[nodiscard]] int receiver_fd() const {
    if (stream_) {
      return stream_->native_handle();
    }
    if (seqpacket_) {
      return seqpacket_->native_handle();
    }
    return dgram_->native_handle();
  }

  // ---- The peer ------------------------------------------------------------------------------

  void peer_send(std::vector<std::byte> data, std::size_t fds, bool credentials) {
    if (peer_ < 0) {
      return;
    }
    std::vector<int> rights(fds, passed_);
    std::vector<std::byte> control(CMSG_SPACE(fds * sizeof(int)) + CMSG_SPACE(sizeof(ucred)));
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::size_t used = 0;
    if (fds > 0 || credentials) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* header = CMSG_FIRSTHDR(&msg);
      if (fds > 0) {
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(fds * sizeof(int));
        std::memcpy(CMSG_DATA(header), rights.data(), fds * sizeof(int));
        used += CMSG_SPACE(fds * sizeof(int));
        header = CMSG_NXTHDR(&msg, header);
      }
      if (credentials) {
        const ucred mine{::getpid(), ::getuid(), ::getgid()};
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_CREDENTIALS;
        header->cmsg_len = CMSG_LEN(sizeof mine);
        std::memcpy(CMSG_DATA(header), &mine, sizeof mine);
        used += CMSG_SPACE(sizeof mine);
      }
      msg.msg_controllen = used;
    }
    const ssize_t n = ::sendmsg(peer_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      return;  // full, too big, or shut down: nothing was queued
    }
    const auto sent = static_cast<std::size_t>(n);
    if (is_stream()) {
      // A stream send may be short; the descriptors go with the first byte.
      bytes_.insert(bytes_.end(), data.begin(), data.begin() + static_cast<long>(sent));
      if (sent > 0) {
        stream_fds_ += fds;
      }
    } else {
      require(sent == data.size(), "a message is sent whole or not at all");
      data.resize(sent);
      messages_.push_back({std::move(data), fds});
    }
  }

  std::vector<std::byte> stamped(std::size_t size) {
    std::vector<std::byte> data(size);
    for (auto& b : data) {
      b = static_cast<std::byte>(stamp_++ * 131 + 7);
    }
    return data;
  }

  // ---- Steps ---------------------------------------------------------------------------------

  void step(script& s) {
    const std::uint8_t op = s.u8() % 8;
    switch (op) {
      case 0: {
        const std::size_t size = s.u16() % (64 * 1024);
        const std::size_t fds = s.u8() % 254;
        const bool credentials = (s.u8() & 1) != 0;
        peer_send(stamped(size), fds, credentials);
        break;
      }
      case 1: {
        const std::size_t length = s.u8();
        auto raw = s.take(length);
        std::vector<std::byte> data(raw.size());
        std::transform(raw.begin(), raw.end(), data.begin(),
                       [](std::uint8_t b) { return static_cast<std::byte>(b); });
        peer_send(std::move(data), 0, false);
        break;
      }
      case 2:
        if (peer_ >= 0 && ::shutdown(peer_, SHUT_WR) == 0) {
          peer_shut_ = true;
        }
        break;
      case 3:
        if (peer_ >= 0) {
          ::close(peer_);
          peer_ = -1;
          peer_shut_ = true;
          --baseline_;
        }
        break;
      case 4:
        receive_step(s, -1);
        break;
      case 5:
        receive_step(s, s.u8() % 4);
        break;
      case 6:
        if (kind_ == kind::framed) {
          const std::size_t size = s.u16() % (64 * 1024);
          std::vector<std::byte> frame(4 + size);
          const auto length = static_cast<std::uint32_t>(size);
          for (int i = 0; i < 4; ++i) {
            frame[static_cast<std::size_t>(i)] = static_cast<std::byte>(length >> (8 * i));
          }
          auto payload = stamped(size);
          std::copy(payload.begin(), payload.end(), frame.begin() + 4);
          peer_send(std::move(frame), 0, false);
        } else {
          peer_send(stamped(s.u16() % 2048), s.u8() % 4, false);
        }
        break;
      case 7:
      default: {
        const std::uint8_t api = s.u8();
        const std::uint16_t size = s.u16();
        for (int i = 0; i < 300 && receive_call(api, size, -1); ++i) {
        }
        break;
      }
    }
  }

  void receive_step(script& s, int free_fds) {
    const std::uint8_t api = s.u8();
    const std::uint16_t size = s.u16();
    receive_call(api, size, free_fds);
  }

  // One receiver call. Returns false when it would block (or the script's end is reached).
  bool receive_call(std::uint8_t api, std::uint16_t size, int free_fds) {
    ++counted.calls;
    std::vector<std::byte> buffer(size % 70000);
    free_fds_ = free_fds;
    bool more = false;
    switch (kind_) {
      case kind::stream:
        more = stream_call(api, buffer);
        break;
      case kind::seqpacket:
        more = message_call(*seqpacket_, api, buffer, free_fds >= 0);
        break;
      case kind::dgram:
        more = message_call(*dgram_, api, buffer, free_fds >= 0);
        break;
      case kind::framed:
        more = frame_call();
        break;
    }
    require(count_open_fds() == baseline_, "descriptor count back to baseline after a call",
            count_open_fds() - baseline_);
    return more;
  }

  // Makes the library call `f`; with a step 5, RLIMIT_NOFILE is lowered around the call alone
  // so that only `free_fds_` descriptors can be created during it (the lowest numbers free).
  // Nothing else runs while it is lowered: opendir(3) and UBSan's vptr check (which probes
  // memory with pipe(2)) need descriptors of their own.
  template <class F>
  auto call(F f) {
    const lowered_limit limit(free_fds_);
    return f();  // the limit is lifted when `limit` goes, after the result is made
  }

  // Lowers RLIMIT_NOFILE to leave `free_fds` descriptors creatable (none when negative: the
  // limit stays) for its lifetime.
  class lowered_limit {
   public:
    explicit lowered_limit(int free_fds) noexcept {
      if (free_fds < 0 || ::getrlimit(RLIMIT_NOFILE, &saved_) != 0) {
        return;
      }
      const int low = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (low < 0) {
        return;
      }
      ::close(low);
      rlimit lowered = saved_;
      lowered.rlim_cur = static_cast<rlim_t>(low) + static_cast<rlim_t>(free_fds);
      active_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
    }
    ~lowered_limit() {
      if (active_) {
        ::setrlimit(RLIMIT_NOFILE, &saved_);
      }
    }
    lowered_limit(const lowered_limit&) = delete;
    lowered_limit& operator=(const lowered_limit&) = delete;
    lowered_limit(lowered_limit&&) = delete;
    lowered_limit& operator=(lowered_limit&&) = delete;

   private:
    rlimit saved_{};
    bool active_ = false;
  };

  // Checks received descriptors: each a copy of the passed one.
  template <class Fds>
  void check_fds(const Fds& fds) {
    for (const auto& fd : fds) {
      require(is_passed_(fd.get()), "a received descriptor is a copy of the one sent");
      const bool cloexec = (::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0;
      require(cloexec == ((flags_ & 4) == 0), "close-on-exec as asked");
    }
    counted.descriptors_received += fds.size();
  }

  // ---- Stream ----------------------------------------------------------------------------------

  void consume_stream(std::span<const std::byte> got) {
    if (desynced_) {
      return;
    }
    require(got.size() <= bytes_.size(), "no more bytes than were sent");
    require(std::equal(got.begin(), got.end(), bytes_.begin()), "stream bytes in order");
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<long>(got.size()));
    counted.bytes_received += got.size();
  }

  [[nodiscard]] static bool would_block(const std::error_code& e) {
    return e == std::errc::operation_would_block;
  }

  // One stream `receive`: what it returns must match the bytes and descriptors sent.
  bool stream_receive_call(std::vector<std::byte>& buffer) {
    auto& s = *stream_;
    auto r = call([&] { return s.receive(buffer); });
    if (!r) {
      if (buffer.empty()) {
        require(r.error() == std::errc::invalid_argument, "empty stream buffer is EINVAL",
                r.error().value());
        return false;
      }
      if (r.error() == sockpair::errc::descriptors_discarded) {
        require(stream_fds_ > 0, "descriptors discarded only where some were sent");
        desynced_ = true;  // the bytes that came with them are not counted
        return true;
      }
      require(would_block(r.error()), "stream receive: only EAGAIN", r.error().value());
      require(desynced_ || bytes_.empty() || buffer.empty(), "EAGAIN with bytes queued");
      return false;
    }
    consume_stream(std::span(buffer).first(r.value()));
    if (r.value() == 0) {
      require(buffer.empty() || desynced_ || (peer_shut_ && bytes_.empty()), "EOF only at the end");
      return false;
    }
    return true;
  }

  bool stream_call(std::uint8_t api, std::vector<std::byte>& buffer) {
    auto& s = *stream_;
    switch (api % 5) {
      case 0:
        return stream_receive_call(buffer);
      case 1: {
        sockpair::incoming in(buffer);
        auto r = call([&] { return s.receive_exact(in); });
        const std::size_t done = in.done();
        consume_stream(std::span(buffer).first(done));
        if (!r) {
          if (r.error() == sockpair::errc::descriptors_discarded) {
            require(stream_fds_ > 0, "descriptors discarded only where some were sent");
            return true;  // `done` counted the bytes: still in sync
          }
          require(would_block(r.error()) || r.error() == sockpair::errc::unexpected_eof,
                  "receive_exact: EAGAIN or unexpected EOF", r.error().value());
          if (r.error() == sockpair::errc::unexpected_eof) {
            require(peer_shut_, "unexpected_eof only after the peer shut down");
          }
          return false;
        }
        require(done == buffer.size(), "receive_exact fills the buffer");
        return !buffer.empty();
      }
      case 2: {
        auto r = call([&] { return s.peek(buffer); });
        if (!r) {
          require(would_block(r.error()) ||
                      (buffer.empty() && r.error() == std::errc::invalid_argument),
                  "peek: only EAGAIN (EINVAL for no room)", r.error().value());
          return false;
        }
        if (!desynced_) {
          require(r.value() <= bytes_.size() &&
                      std::equal(buffer.begin(), buffer.begin() + static_cast<long>(r.value()),
                                 bytes_.begin()),
                  "peek shows the next bytes");
        }
        return false;  // peeking consumes nothing: draining must move on
      }
      case 3: {
        auto r = call([&] { return sockpair::receive_with_fds<4>(s, buffer, fd_options()); });
        return stream_fds_result(r, buffer);
      }
      default: {
        auto r = call([&] {  // up to 253, into a vector
          return sockpair::receive_with_fds(s, buffer, fd_options());
        });
        return stream_fds_result(r, buffer);
      }
    }
  }

  template <class R>
  bool stream_fds_result(R& r, std::vector<std::byte>& buffer) {
    if (!r) {
      const auto& e = r.error();
      if (buffer.empty()) {
        require(e == std::errc::invalid_argument, "empty stream buffer is EINVAL", e.value());
        return false;
      }
      if (e == sockpair::errc::control_truncated) {
        desynced_ = true;  // an unknown number of bytes went with the truncated descriptors
        return true;
      }
      require(would_block(e), "stream receive_with_fds: EAGAIN or control_truncated", e.value());
      return false;
    }
    check_fds(r.value().fds);
    require(r.value().fds.size() <= stream_fds_, "no more descriptors than were sent");
    stream_fds_ -= r.value().fds.size();
    consume_stream(std::span(buffer).first(r.value().size));
    return r.value().size > 0;
  }

  // ---- Messages --------------------------------------------------------------------------------

  // The next message must be `front`; `stored` bytes of it are in `buffer`.
  void consume_message(std::span<const std::byte> stored, bool truncated) {
    require(!messages_.empty(), "a message arrived that was never sent");
    const auto& front = messages_.front();
    require(stored.size() <= front.data.size(), "no message grows");
    require(std::equal(stored.begin(), stored.end(), front.data.begin()),
            "message content (or its head) as sent");
    require(truncated == (front.data.size() > stored.size()), "truncation exactly when too long");
    counted.bytes_received += stored.size();
    messages_.pop_front();
  }

  [[nodiscard]] bool at_end() const {
    return kind_ == kind::seqpacket && peer_shut_ && messages_.empty();
  }

  template <class Sock>
  bool message_call(Sock& s, std::uint8_t api, std::vector<std::byte>& buffer, bool limited) {
    switch (api % 6) {
      case 0: {
        auto r = call([&] { return s.receive(buffer); });
        if (!r) {
          if (r.error() == sockpair::errc::message_truncated) {
            consume_message(buffer, true);
            return true;
          }
          if (r.error() == sockpair::errc::descriptors_discarded) {
            require(!messages_.empty() && messages_.front().fds > 0,
                    "descriptors discarded only from a message that carried some");
            messages_.pop_front();
            return true;
          }
          require(would_block(r.error()), "receive: EAGAIN or truncated", r.error().value());
          require(messages_.empty() && !at_end(), "EAGAIN only with nothing queued");
          return false;
        }
        if (r.value() == 0 && messages_.empty()) {
          require(at_end(), "0 from an empty queue only at the end");
          return false;
        }
        consume_message(std::span(buffer).first(r.value()), false);
        return true;
      }
      case 1: {
        auto r = call([&] { return s.receive_message(buffer); });
        if (!r) {
          require(would_block(r.error()), "receive_message: EAGAIN", r.error().value());
          require(messages_.empty() && !at_end(), "EAGAIN only with nothing queued");
          return false;
        }
        if (r.value().end_of_stream) {
          require(at_end(), "end_of_stream only at the end");
          return false;
        }
        require(r.value().size == messages_.front().data.size(), "real size reported");
        require(r.value().descriptors_discarded == (messages_.front().fds > 0),
                "receive_message flags exactly the messages that carried descriptors");
        consume_message(std::span(buffer).first(r.value().stored), r.value().truncated());
        return true;
      }
      case 2: {
        auto r = call([&] { return s.peek(buffer); });
        if (!r) {
          require(would_block(r.error()), "peek: EAGAIN", r.error().value());
          return false;
        }
        if (!r.value().end_of_stream) {
          require(!messages_.empty() && r.value().size == messages_.front().data.size(),
                  "peek reports the next message's size");
        }
        return false;
      }
      case 3: {
        auto r = call([&] { return sockpair::receive_with_fds<4>(s, buffer, fd_options()); });
        return message_fds_result(r, buffer, 4, limited);
      }
      case 4: {
        std::array<sockpair::unique_fd, 2> storage;
        auto r = call([&] {
          return sockpair::receive_with_fds(s, buffer, std::span(storage), fd_options());
        });
        return message_fds_result(r, buffer, 2, limited);
      }
      default:
        return batch_call(s, buffer);
    }
  }

  template <class R>
  bool message_fds_result(R& r, std::vector<std::byte>& buffer, std::size_t room, bool limited) {
    if (!r) {
      const auto& e = r.error();
      if (would_block(e)) {
        require(messages_.empty() && !at_end(), "EAGAIN only with nothing queued");
        return false;
      }
      require(!messages_.empty(), "an error for a message that was never sent", e.value());
      const auto& front = messages_.front();
      if (e == sockpair::errc::control_truncated) {
        require(front.fds > room || limited,
                "control_truncated only with too many descriptors (or none free)", e.value());
      } else {
        require(e == sockpair::errc::message_truncated, "message_truncated", e.value());
        require(front.data.size() > buffer.size(), "truncated only when too long");
        require(front.fds <= room || limited, "control truncation is reported first");
      }
      messages_.pop_front();
      return true;
    }
    if (r.value().size == 0 && messages_.empty()) {
      require(at_end(), "0 from an empty queue only at the end");
      require(r.value().fds.empty(), "no descriptors at the end");
      return false;
    }
    require(!messages_.empty(), "a message arrived that was never sent");
    require(r.value().fds.size() == messages_.front().fds, "every descriptor of the message");
    check_fds(r.value().fds);
    if ((flags_ & 1) != 0) {
      require(r.value().credentials.has_value(), "credentials with SO_PASSCRED");
    }
    consume_message(std::span(buffer).first(r.value().size), false);
    return true;
  }

  template <class Sock>
  bool batch_call(Sock& s, std::vector<std::byte>& buffer) {
    // Split the buffer into up to 4 message buffers.
    std::array<std::span<std::byte>, 4> spans;
    const std::size_t part = buffer.size() / 4;
    for (std::size_t i = 0; i < 4; ++i) {
      spans[i] = std::span(buffer).subspan(i * part, part);
    }
    std::array<sockpair::message_info, 4> info{};
    auto r = call([&] { return sockpair::receive_batch(s, spans, info); });
    if (!r) {
      require(would_block(r.error()), "receive_batch: EAGAIN", r.error().value());
      require(messages_.empty() && !at_end(), "EAGAIN only with nothing queued");
      return false;
    }
    for (std::size_t i = 0; i < r.value(); ++i) {
      if (messages_.empty()) {
        // Past the end a seqpacket batch reads empty messages.
        require(at_end() && info[i].stored == 0, "batch past the end reads empty");
        return false;
      }
      require(info[i].size == messages_.front().data.size(), "batch: real size");
      require(info[i].descriptors_discarded == (messages_.front().fds > 0),
              "batch flags exactly the messages that carried descriptors");
      consume_message(spans[i].first(info[i].stored), info[i].truncated());
    }
    return r.value() > 0;
  }

  // ---- Frames ----------------------------------------------------------------------------------

  bool frame_call() {
    auto r = call([&] { return reader_->read(); });
    const std::size_t max = reader_options_.max_frame_size;
    // The oracle: parse the bytes sent but not yet framed.
    std::optional<std::size_t> length;
    if (bytes_.size() >= 4) {
      length = 0;
      for (std::size_t i = 0; i < 4; ++i) {
        *length |= static_cast<std::size_t>(std::to_integer<unsigned>(bytes_[i])) << (8 * i);
      }
    }
    if (frames_broken_) {
      require(!r && r.error() == sockpair::errc::descriptors_discarded,
              "a reader broken by discarded descriptors stays broken");
      return false;
    }
    if (!r) {
      const auto& e = r.error();
      if (e == sockpair::errc::descriptors_discarded) {
        require(stream_fds_ > 0, "descriptors discarded only where some were sent");
        frames_broken_ = true;
        return false;
      }
      if (e == sockpair::errc::frame_too_large) {
        require(length && *length > max, "frame_too_large only past the limit");
        return false;
      }
      if (e == sockpair::errc::unexpected_eof) {
        require(peer_shut_ && !bytes_.empty() && (!length || bytes_.size() < 4 + *length),
                "unexpected_eof only for a cut frame at the end");
        return false;
      }
      require(would_block(e), "frame read: EAGAIN, too large or cut", e.value());
      require(!length || (*length <= max && bytes_.size() < 4 + *length),
              "EAGAIN only without a whole frame");
      require(!(peer_shut_ && bytes_.empty()), "EAGAIN at a clean end");
      return false;
    }
    if (!r.value()) {
      require(peer_shut_ && bytes_.empty(), "clean end only between frames after shutdown");
      return false;
    }
    const auto frame = *r.value();
    require(length && *length <= max && frame.size() == *length, "frame length as sent");
    require(std::equal(frame.begin(), frame.end(), bytes_.begin() + 4), "frame as sent");
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<long>(4 + frame.size()));
    counted.bytes_received += frame.size();
    return true;
  }

  [[nodiscard]] sockpair::fd_receive_options fd_options() const {
    return {.close_on_exec = (flags_ & 4) == 0};
  }

  // ---- The end -------------------------------------------------------------------------------

  void close_all() {
    reader_.reset();
    stream_.reset();
    seqpacket_.reset();
    dgram_.reset();
    for (int* fd : {&peer_, &passed_, &passed_read_}) {
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
    }
  }

  void finish() {
    const int read_end = passed_read_;
    passed_read_ = -1;
    close_all();
    // Every copy of the passed write end is gone (received ones closed, queued ones
    // released with the sockets): the pipe reads EOF.
    char byte = 0;
    const ssize_t n = ::read(read_end, &byte, 1);
    ::close(read_end);
    require(n == 0, "a copy of a passed descriptor survived", n);
  }

  kind kind_;
  std::uint8_t flags_;
  std::optional<sockpair::socket<sockpair::stream>> stream_;
  std::optional<sockpair::socket<sockpair::seqpacket>> seqpacket_;
  std::optional<sockpair::socket<sockpair::dgram>> dgram_;
  sockpair::frame_reader_options reader_options_{};
  bool frames_broken_ = false;  // the reader met discarded descriptors
  std::unique_ptr<sockpair::frame_reader<sockpair::socket<sockpair::stream>>> reader_;
  int peer_ = -1;
  bool peer_shut_ = false;
  int passed_ = -1;
  int passed_read_ = -1;
  same_file_as is_passed_{};
  int baseline_ = 0;
  int free_fds_ = -1;
  std::deque<std::byte> bytes_;
  std::size_t stream_fds_ = 0;
  bool desynced_ = false;
  std::deque<queued_message> messages_;
  unsigned stamp_ = 0;
};

}  // namespace

// Called by the corpus driver (fuzz/corpus_driver.cpp) at exit.
void receive_fuzzer_print_totals() {
  std::printf(
      "receive_fuzzer: %llu inputs, %llu receive calls, %llu bytes and %llu descriptors "
      "received\n",
      counted.inputs, counted.calls, counted.bytes_received, counted.descriptors_received);
}

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ++counted.inputs;
  script s(std::span<const std::uint8_t>(data, size));
  const auto k = static_cast<kind>(s.u8() % 4);
  const std::uint8_t flags = s.u8();
  const int before = count_open_fds();
  {
    session run(k, flags);
    run.run(s);
  }
  require(count_open_fds() == before, "no descriptor outlives an input", count_open_fds() - before);
  return 0;
}
