// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Vectored I/O on one thread: 64 KiB go out on one end and are read back whole on the other,
// either from one contiguous buffer or gathered from / scattered to 16 buffers of 4 KiB.
// 64 KiB fit in every kernel buffer involved (a default pipe holds exactly 16 pages), so
// neither call blocks and the case measures system call and copy costs, not wake-ups.
//
//   vectored/pipe_1buf/65536              write(2) / read(2)
//   vectored/pipe_16iov/65536             writev(2) / readv(2)
//   vectored/raw_socketpair_1buf/65536    send(2) / recv(2), stream pair
//   vectored/raw_socketpair_16iov/65536   sendmsg(2) / recvmsg(2) with 16 iovecs
//   vectored/sockpair_1buf/65536          send_all / receive_exact
//   vectored/sockpair_16iov/65536         send_all / receive_exact of 16 spans
//   vectored/asio_1buf/65536              write_some / read_some loops
//   vectored/asio_16iov/65536             asio::write / asio::read of 16 buffers
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "benchmarks/asio.hpp"
#include "benchmarks/contenders.hpp"
#include "benchmarks/support.hpp"

namespace bench {
namespace {

constexpr std::size_t chunk = 4096;
constexpr std::size_t chunks = 16;
constexpr std::size_t total = chunk * chunks;

/// 16 buffers of 4 KiB, stamped in the first.
struct scattered {
  std::array<std::vector<std::byte>, chunks> parts;
  scattered() {
    for (auto& part : parts) {
      part.assign(chunk, std::byte{0x5a});
    }
  }
  std::array<iovec, chunks> iovecs() {
    std::array<iovec, chunks> result{};
    for (std::size_t i = 0; i < chunks; ++i) {
      result[i] = {parts[i].data(), chunk};
    }
    return result;
  }
};

/// Drops the first `n` bytes from the iovec array [*iov, *iov + *count).
void consume(iovec*& iov, int& count, std::size_t n) {
  while (n > 0 && count > 0) {
    if (n >= iov->iov_len) {
      n -= iov->iov_len;
      ++iov;
      --count;
    } else {
      iov->iov_base = static_cast<std::byte*>(iov->iov_base) + n;
      iov->iov_len -= n;
      n = 0;
    }
  }
}

/// Runs `transfer(iov, count)` (one writev/readv-like call) until every byte has moved.
template <class Transfer>
bool transfer_all(std::array<iovec, chunks> iovecs, Transfer transfer) {
  iovec* iov = iovecs.data();
  int count = static_cast<int>(chunks);
  while (count > 0) {
    const ssize_t n = transfer(iov, count);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    consume(iov, count, static_cast<std::size_t>(n));
  }
  return true;
}

/// The loop shared by every contender: stamp, send 64 KiB, receive 64 KiB, check the stamp.
template <class Send, class Receive>
void run(benchmark::State& state, bytes sent_head, const_bytes received_head, Send send,
         Receive receive) {
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    stamp(sent_head, sequence);
    if (!send()) {
      fail("vectored: send");
    }
    if (!receive() || !has_stamp(received_head, sequence)) {
      fail("vectored: receive");
    }
    ++sequence;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void pipe_1buf(benchmark::State& state) {
  auto [writer, reader] = pipe_channel::make();
  std::vector<std::byte> out(total, std::byte{0x5a});
  std::vector<std::byte> in(total);
  run(
      state, out, in, [&, &w = writer] { return w.send_payload(out); },
      [&, &r = reader] { return r.receive_payload(in) == 1; });
}

void pipe_16iov(benchmark::State& state) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    fail("pipe2");
  }
  const fd reader(fds[0]);
  const fd writer(fds[1]);
  scattered out;
  scattered in;
  run(
      state, out.parts[0], in.parts[0],
      [&] {
        return transfer_all(out.iovecs(),
                            [&](iovec* iov, int n) { return ::writev(writer.get(), iov, n); });
      },
      [&] {
        return transfer_all(in.iovecs(),
                            [&](iovec* iov, int n) { return ::readv(reader.get(), iov, n); });
      });
}

void raw_socketpair_1buf(benchmark::State& state) {
  auto [writer, reader] = raw_socketpair<sockpair::stream>::make();
  std::vector<std::byte> out(total, std::byte{0x5a});
  std::vector<std::byte> in(total);
  run(
      state, out, in, [&, &w = writer] { return w.send_payload(out); },
      [&, &r = reader] { return r.receive_payload(in) == 1; });
}

ssize_t message_call(int socket, iovec* iov, int count, bool sending) {
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = static_cast<std::size_t>(count);
  return sending ? ::sendmsg(socket, &message, MSG_NOSIGNAL) : ::recvmsg(socket, &message, 0);
}

void raw_socketpair_16iov(benchmark::State& state) {
  std::array<int, 2> fds{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) != 0) {
    fail("socketpair");
  }
  const fd writer(fds[0]);
  const fd reader(fds[1]);
  scattered out;
  scattered in;
  run(
      state, out.parts[0], in.parts[0],
      [&] {
        return transfer_all(out.iovecs(), [&](iovec* iov, int n) {
          return message_call(writer.get(), iov, n, true);
        });
      },
      [&] {
        return transfer_all(in.iovecs(), [&](iovec* iov, int n) {
          return message_call(reader.get(), iov, n, false);
        });
      });
}

void sockpair_1buf(benchmark::State& state) {
  auto [writer, reader] = sockpair_channel<sockpair::stream>::make();
  std::vector<std::byte> out(total, std::byte{0x5a});
  std::vector<std::byte> in(total);
  run(
      state, out, in, [&, &w = writer] { return w.send_payload(out); },
      [&, &r = reader] { return r.receive_payload(in) == 1; });
}

void sockpair_16iov(benchmark::State& state) {
  auto [writer, reader] = sockpair_channel<sockpair::stream>::make();
  scattered out;
  scattered in;
  std::array<std::span<const std::byte>, chunks> out_spans;
  std::array<std::span<std::byte>, chunks> in_spans;
  for (std::size_t i = 0; i < chunks; ++i) {
    out_spans[i] = out.parts[i];
    in_spans[i] = in.parts[i];
  }
  run(
      state, out.parts[0], in.parts[0],
      [&, &w = writer] {
        const auto sent =
            w.socket().send_all(std::span<const std::span<const std::byte>>(out_spans));
        return sent && sent.value() == total;
      },
      [&, &r = reader] {
        const auto got = r.socket().receive_exact(std::span<const std::span<std::byte>>(in_spans));
        return got && got.value() == total;
      });
}

void asio_1buf(benchmark::State& state) {
  auto [writer, reader] = asio_channel<sockpair::stream>::make();
  std::vector<std::byte> out(total, std::byte{0x5a});
  std::vector<std::byte> in(total);
  run(
      state, out, in, [&, &w = writer] { return w.send_payload(out); },
      [&, &r = reader] { return r.receive_payload(in) == 1; });
}

void asio_16iov(benchmark::State& state) {
  auto [writer, reader] = asio_channel<sockpair::stream>::make();
  scattered out;
  scattered in;
  std::array<boost::asio::const_buffer, chunks> out_buffers;
  std::array<boost::asio::mutable_buffer, chunks> in_buffers;
  for (std::size_t i = 0; i < chunks; ++i) {
    out_buffers[i] = boost::asio::buffer(out.parts[i]);
    in_buffers[i] = boost::asio::buffer(in.parts[i]);
  }
  run(
      state, out.parts[0], in.parts[0],
      [&, &w = writer] {
        boost::system::error_code error;
        return boost::asio::write(w.socket(), out_buffers, error) == total && !error;
      },
      [&, &r = reader] {
        boost::system::error_code error;
        return boost::asio::read(r.socket(), in_buffers, error) == total && !error;
      });
}

// Registration at start-up, as Google Benchmark's BENCHMARK() macro does.
[[maybe_unused]] const bool registered = [] {  // NOLINT(cert-err58-cpp)
  const std::array<std::pair<const char*, void (*)(benchmark::State&)>, 8> cases{{
      {"pipe_1buf", pipe_1buf},
      {"pipe_16iov", pipe_16iov},
      {"raw_socketpair_1buf", raw_socketpair_1buf},
      {"raw_socketpair_16iov", raw_socketpair_16iov},
      {"sockpair_1buf", sockpair_1buf},
      {"sockpair_16iov", sockpair_16iov},
      {"asio_1buf", asio_1buf},
      {"asio_16iov", asio_16iov},
  }};
  for (const auto& [contender, function] : cases) {
    benchmark::RegisterBenchmark(name("vectored", contender).c_str(), function)
        ->Arg(static_cast<std::int64_t>(total));
  }
  return true;
}();

}  // namespace
}  // namespace bench
