// sockpair::asio::async_socket against a real io_context: completions, exact progress on
// cancellation, descriptors in flight, every kind of completion token, strands on several
// threads. Only outcomes are asserted, never durations; io_context::run_for is a watchdog.
#include <socketpair/asio.hpp>
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/support/fds.hpp"
#include "tests/support/kernel.hpp"
#include "tests/support/seccomp.hpp"

namespace sockpair::testing {
namespace {

namespace net = boost::asio;
using sockpair::asio::async_socket;
using std::chrono::seconds;

constexpr auto watchdog = seconds(60);

// One io_context for all the tests, made before the first and destroyed after the last (so
// the descriptor check around each test sees its descriptors neither appear nor vanish).
// Under Asio's io_uring backend (--config=uring) each context owns a ring that the kernel
// frees later, and a context per test ran into RLIMIT_MEMLOCK (ENOMEM from
// io_uring_queue_init).
class AsyncSocket : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    context = std::make_unique<net::io_context>();
    // The reactor (epoll or io_uring) and its descriptors come with the first I/O object.
    const net::posix::stream_descriptor descriptor(*context);
    const net::steady_timer timer(*context);
  }
  static void TearDownTestSuite() { context.reset(); }

 protected:
  // The shared context, ready to run again.
  static net::io_context& fresh_io() {
    context->restart();
    return *context;
  }

 private:
  static inline std::unique_ptr<net::io_context> context;
};

bool cancelled(const std::error_code& e) { return e == std::errc::operation_canceled; }

// One end bound to `io`, the other left synchronous (blocking).
template <class Type, class Executor = net::any_io_executor>
struct mixed_pair {
  async_socket<Type, unix_domain, Executor> async;
  socket<Type> sync;
};

template <class Type, class Executor = net::any_io_executor>
mixed_pair<Type, Executor> make_mixed(const Executor& executor) {
  auto [a, b] = std::move(socket_pair<Type>::create()).value();
  auto end = async_socket<Type, unix_domain, Executor>::create(executor, std::move(a));
  if (!end) {
    ADD_FAILURE() << "create: " << end.error().message();
    std::abort();
  }
  return {std::move(end).value(), std::move(b)};
}

std::vector<std::byte> pattern(std::size_t size, unsigned seed = 1) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((i * 131 + std::size_t{seed} * 7 + (i >> 9)) & 0xFF);
  }
  return out;
}

// Everything queued on `end` now, read without blocking.
template <class Type>
std::vector<std::byte> drain(socket<Type>& end) {
  EXPECT_TRUE(end.set_nonblocking(true));
  std::vector<std::byte> all;
  std::array<std::byte, 65536> chunk{};
  for (;;) {
    auto got = end.receive(chunk);
    if (!got || got.value() == 0) {
      break;
    }
    all.insert(all.end(), chunk.begin(), chunk.begin() + static_cast<long>(got.value()));
  }
  EXPECT_TRUE(end.set_nonblocking(false));
  return all;
}

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

// Both ends of a new pipe(2), owned: a descriptor to pass that is not a socket.
struct pipe_ends {
  unique_fd read_end;
  unique_fd write_end;
};

pipe_ends make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe(fds.data()) != 0) {
    ADD_FAILURE() << "pipe: " << std::generic_category().message(errno);
    std::abort();
  }
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// A cancellation signal and what the one operation whose handler is bound to it reported:
// its error and its count of bytes (empty until it completes).
struct cancellable_transfer {
  net::cancellation_signal signal;
  std::error_code error;
  std::optional<std::size_t> count;

  // The completion handler for that operation, bound to `signal`.
  auto handler() {
    return net::bind_cancellation_slot(signal.slot(), [this](std::error_code ec, std::size_t n) {
      error = ec;
      count = n;
    });
  }
};

// ---- Binding ----------------------------------------------------------------------------------

TEST_F(AsyncSocket, CreateMakesTheEndNonBlockingAndOwnsIt) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<stream>::create()).value();
  const int fd = a.native_handle();
  {
    auto end = async_socket<stream>::create(io, std::move(a));
    ASSERT_TRUE(end);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved from, and empty
    EXPECT_EQ(end.value().native_handle(), fd);
    EXPECT_TRUE(is_nonblocking(fd));
  }
  EXPECT_FALSE(is_open(fd));  // closed with the async end
}

TEST_F(AsyncSocket, CreateRefusesAnEmptyEnd) {
  net::io_context& io = fresh_io();
  socket<stream> none;
  auto end = async_socket<stream>::create(io, std::move(none));
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), std::errc::bad_file_descriptor);
}

TEST_F(AsyncSocket, ReleaseHandsTheEndBackOpen) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const int fd = p.async.native_handle();
  socket<stream> back = p.async.release();
  EXPECT_EQ(back.native_handle(), fd);
  EXPECT_TRUE(is_open(fd));
  ASSERT_TRUE(back.send(as_bytes("x")));
  std::array<std::byte, 1> one{};
  EXPECT_EQ(p.sync.receive(one).value(), 1U);
}

TEST_F(AsyncSocket, MoveAssignmentClosesTheOldEndAndBothEndsStillWork) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  auto q = make_mixed<stream>(io.get_executor());
  const int old_fd = p.async.native_handle();
  p.async = std::move(q.async);
  EXPECT_FALSE(is_open(old_fd));  // unregistered from the reactor, then closed
  EXPECT_FALSE(q.async);          // NOLINT(bugprone-use-after-move): moved from, and empty
  // A new end (most likely on the old descriptor's number) registers and works.
  auto r = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 4> buffer{};
  std::optional<std::size_t> got;
  r.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    got = n;
  });
  const std::string ab = "ab";
  std::optional<std::size_t> sent;
  p.async.async_send(as_bytes(ab), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    sent = n;
  });
  std::optional<std::error_code> on_empty;
  // NOLINTNEXTLINE(bugprone-use-after-move): an operation on the empty end fails, later
  q.async.async_send(as_bytes(ab), [&](std::error_code ec, std::size_t) { on_empty = ec; });
  EXPECT_FALSE(on_empty);
  ASSERT_TRUE(r.sync.send(as_bytes("cd")));
  io.run_for(watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 2U);
  ASSERT_TRUE(sent);
  EXPECT_EQ(*sent, 2U);
  std::array<std::byte, 2> two{};
  EXPECT_EQ(q.sync.receive(two).value(), 2U);  // p.async is now q's async end
  EXPECT_EQ(two[1], std::byte{'b'});
  ASSERT_TRUE(on_empty);
  EXPECT_EQ(*on_empty, std::errc::bad_file_descriptor) << on_empty->message();
}

// ---- Completion --------------------------------------------------------------------------------

TEST_F(AsyncSocket, AnOperationThatCompletesAtOnceNeverCompletesInsideTheCall) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::optional<std::size_t> sent;
  const std::string hello = "hello";
  p.async.async_send(as_bytes(hello), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
  });
  EXPECT_FALSE(sent);  // not from inside async_send
  io.run_for(watchdog);
  ASSERT_TRUE(sent);
  EXPECT_EQ(*sent, hello.size());
}

TEST_F(AsyncSocket, AReceiveWaitsForDataAndGetsItAll) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 16> buffer{};
  std::optional<std::size_t> got;
  p.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    got = n;
  });
  io.poll();  // the receive now waits: nothing was sent
  EXPECT_FALSE(got);
  ASSERT_TRUE(p.sync.send(as_bytes("abc")));
  io.run_for(watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 3U);
  EXPECT_EQ(buffer[2], std::byte{'c'});
}

TEST_F(AsyncSocket, EndOfStreamIsAZeroCount) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 16> buffer{};
  std::optional<std::size_t> got;
  p.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });
  io.poll();
  ASSERT_TRUE(p.sync.close());
  io.run_for(watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0U);
}

TEST_F(AsyncSocket, SendAllAndReceiveExactMoveMegabytesThroughAFullPair) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<stream>::create()).value();
  auto writer = std::move(async_socket<stream>::create(io, std::move(a))).value();
  auto reader = std::move(async_socket<stream>::create(io, std::move(b))).value();
  const auto out = pattern(8U << 20U);
  std::vector<std::byte> in(out.size());
  std::optional<std::size_t> sent;
  std::optional<std::size_t> received;
  writer.async_send_all(out, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    sent = n;
  });
  reader.async_receive_exact(in, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    received = n;
  });
  io.run_for(watchdog);
  ASSERT_TRUE(sent && received);
  EXPECT_EQ(*sent, out.size());
  EXPECT_EQ(*received, out.size());
  EXPECT_EQ(in, out);
}

TEST_F(AsyncSocket, GatherAndScatterMoveEveryBuffer) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<stream>::create()).value();
  auto writer = std::move(async_socket<stream>::create(io, std::move(a))).value();
  auto reader = std::move(async_socket<stream>::create(io, std::move(b))).value();
  const auto one = pattern(3U << 20U, 1);
  const auto two = pattern(5, 2);
  const std::array<std::span<const std::byte>, 2> out = {one, two};
  std::vector<std::byte> x(7);
  std::vector<std::byte> y(one.size() + two.size() - 7);
  const std::array<std::span<std::byte>, 2> in = {x, y};
  std::size_t sent = 0;
  std::size_t received = 0;
  writer.async_send_all(out, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
  });
  reader.async_receive_exact(in, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    received = n;
  });
  io.run_for(watchdog);
  EXPECT_EQ(sent, one.size() + two.size());
  EXPECT_EQ(received, sent);
  std::vector<std::byte> joined(x);
  joined.insert(joined.end(), y.begin(), y.end());
  std::vector<std::byte> expected(one);
  expected.insert(expected.end(), two.begin(), two.end());
  EXPECT_EQ(joined, expected);
}

TEST_F(AsyncSocket, ReceiveExactReportsWhatArrivedBeforeTheEnd) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 10> buffer{};
  std::error_code error;
  std::size_t got = 99;
  p.async.async_receive_exact(buffer, [&](std::error_code ec, std::size_t n) {
    error = ec;
    got = n;
  });
  ASSERT_TRUE(p.sync.send(as_bytes("1234")));
  io.poll();
  ASSERT_TRUE(p.sync.close());
  io.run_for(watchdog);
  EXPECT_EQ(error, errc::unexpected_eof);
  EXPECT_EQ(got, 4U);
}

TEST_F(AsyncSocket, ReadinessWaitsCompleteOnlyWhenTheEndIsReady) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::optional<std::error_code> readable;
  std::optional<std::error_code> writable;
  p.async.async_wait_readable([&](std::error_code ec) { readable = ec; });
  p.async.async_wait_writable([&](std::error_code ec) { writable = ec; });
  io.poll();
  EXPECT_FALSE(readable);  // nothing to read yet
  ASSERT_TRUE(writable);   // an empty pair has room
  EXPECT_FALSE(*writable);
  ASSERT_TRUE(p.sync.send(as_bytes("r")));
  io.run_for(watchdog);
  ASSERT_TRUE(readable);
  EXPECT_FALSE(*readable);
  std::array<std::byte, 1> one{};
  EXPECT_EQ(p.async.next_layer().receive(one).value(), 1U);  // the wait consumed nothing

  io.restart();
  readable.reset();
  p.async.async_wait_readable([&](std::error_code ec) { readable = ec; });
  io.poll();
  ASSERT_TRUE(p.async.cancel());
  io.run_for(watchdog);
  ASSERT_TRUE(readable);
  EXPECT_TRUE(cancelled(*readable));
}

// ---- Messages ----------------------------------------------------------------------------------

TEST_F(AsyncSocket, ReceiveMessageTellsAnEmptyMessageTruncationAndTheEndApart) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<seqpacket>(io.get_executor());
  ASSERT_TRUE(p.sync.send(std::span<const std::byte>()));
  ASSERT_TRUE(p.sync.send(as_bytes("0123456789")));
  ASSERT_TRUE(p.sync.shutdown(shutdown_how::write));
  std::array<std::byte, 4> buffer{};
  std::vector<message_info> infos;
  std::function<void()> next = [&] {
    p.async.async_receive_message(buffer, [&](std::error_code ec, message_info info) {
      EXPECT_FALSE(ec) << ec.message();
      infos.push_back(info);
      if (!info.end_of_stream && infos.size() < 5) {
        next();
      }
    });
  };
  next();
  io.run_for(watchdog);
  ASSERT_EQ(infos.size(), 3U);
  EXPECT_EQ(infos[0].size, 0U);
  EXPECT_FALSE(infos[0].end_of_stream);
  EXPECT_TRUE(infos[1].truncated());
  EXPECT_EQ(infos[1].size, 10U);
  EXPECT_EQ(infos[1].stored, 4U);
  EXPECT_TRUE(infos[2].end_of_stream);
}

TEST_F(AsyncSocket, BatchesSendAndReceiveManyMessages) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<seqpacket>::create()).value();
  auto writer = std::move(async_socket<seqpacket>::create(io, std::move(a))).value();
  auto reader = std::move(async_socket<seqpacket>::create(io, std::move(b))).value();
  const std::string m0 = "zero";
  const std::string m1 = "one!";
  const std::array<std::span<const std::byte>, 2> out = {as_bytes(m0), as_bytes(m1)};
  std::array<std::array<std::byte, 8>, 2> storage{};
  const std::array<std::span<std::byte>, 2> in = {storage[0], storage[1]};
  std::array<message_info, 2> infos{};
  std::size_t sent = 0;
  std::size_t received = 0;
  writer.async_send_batch(out, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
    reader.async_receive_batch(in, infos, [&](std::error_code ec2, std::size_t k) {
      EXPECT_FALSE(ec2);
      received = k;
    });
  });
  io.run_for(watchdog);
  EXPECT_EQ(sent, 2U);
  EXPECT_EQ(received, 2U);
  EXPECT_EQ(infos[1].size, 4U);
  EXPECT_EQ(storage[1][3], std::byte{'!'});
}

// ---- Frames ------------------------------------------------------------------------------------

TEST_F(AsyncSocket, FramesRoundTripThroughAFullStream) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<stream>::create()).value();
  auto writer_end = std::move(async_socket<stream>::create(io, std::move(a))).value();
  auto reader_end = std::move(async_socket<stream>::create(io, std::move(b))).value();
  frame_writer writer(writer_end.next_layer());
  frame_reader reader(reader_end.next_layer());
  const auto big = pattern(700'000);  // more than the pair holds: the writer must wait
  constexpr int frames = 6;
  int written = 0;
  int read = 0;
  std::function<void()> write_next = [&] {
    const std::size_t size = (written % 2 == 0) ? big.size() : 3;
    writer_end.async_write_frame(writer, std::span(big).first(size),
                                 [&](std::error_code ec, bool accepted) {
                                   EXPECT_FALSE(ec) << ec.message();
                                   EXPECT_TRUE(accepted);
                                   if (++written < frames) {
                                     write_next();
                                   }
                                 });
  };
  std::function<void()> read_next = [&] {
    reader_end.async_read_frame(
        reader, [&](std::error_code ec, std::optional<std::span<const std::byte>> frame) {
          ASSERT_FALSE(ec) << ec.message();
          ASSERT_TRUE(frame);
          const std::size_t size = (read % 2 == 0) ? big.size() : 3;
          ASSERT_EQ(frame->size(), size);
          EXPECT_TRUE(std::equal(frame->begin(), frame->end(), big.begin()));
          if (++read < frames) {
            read_next();
          }
        });
  };
  write_next();
  read_next();
  io.run_for(watchdog);
  EXPECT_EQ(written, frames);
  EXPECT_EQ(read, frames);
}

TEST_F(AsyncSocket, APeerDyingMidFrameIsAnUnexpectedEndNotAFrame) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  frame_reader reader(p.async.next_layer());
  std::error_code error;
  bool done = false;
  p.async.async_read_frame(reader,
                           [&](std::error_code ec, std::optional<std::span<const std::byte>>) {
                             error = ec;
                             done = true;
                           });
  const std::array<std::byte, 4 + 10> partial = {std::byte{100}};  // 100 bytes announced
  ASSERT_TRUE(p.sync.send_all(partial));
  io.poll();
  EXPECT_FALSE(done);  // a partial frame is no frame
  ASSERT_TRUE(p.sync.close());
  io.run_for(watchdog);
  ASSERT_TRUE(done);
  EXPECT_EQ(error, errc::unexpected_eof);
}

// ---- Cancellation -------------------------------------------------------------------------------

TEST_F(AsyncSocket, ACancelledSendAllReportsExactlyTheBytesThatWentOut) {
  for (const auto type : {net::cancellation_type::terminal, net::cancellation_type::partial}) {
    net::io_context& io = fresh_io();
    auto p = make_mixed<stream>(io.get_executor());
    const auto out = pattern(16U << 20U);  // far more than the pair holds
    cancellable_transfer send;
    p.async.async_send_all(out, send.handler());
    io.poll();  // the pair is full: the operation waits
    ASSERT_FALSE(send.count);
    send.signal.emit(type);
    io.run_for(watchdog);
    ASSERT_TRUE(send.count);
    EXPECT_TRUE(cancelled(send.error)) << send.error.message();
    EXPECT_GT(*send.count, 0U);
    EXPECT_LT(*send.count, out.size());
    const auto arrived = drain(p.sync);
    ASSERT_EQ(arrived.size(), *send.count);  // exactly what it reported, no more, no less
    EXPECT_TRUE(std::equal(arrived.begin(), arrived.end(), out.begin()));
  }
}

TEST_F(AsyncSocket, ACancelledReceiveExactReportsExactlyTheBytesThatArrived) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 10> buffer{};
  cancellable_transfer receive;
  p.async.async_receive_exact(buffer, receive.handler());
  ASSERT_TRUE(p.sync.send(as_bytes("01234")));
  io.poll();  // the five bytes are taken; the operation waits for five more
  ASSERT_FALSE(receive.count);
  receive.signal.emit(net::cancellation_type::partial);
  io.run_for(watchdog);
  ASSERT_TRUE(receive.count);
  EXPECT_TRUE(cancelled(receive.error));
  EXPECT_EQ(*receive.count, 5U);
  EXPECT_EQ(buffer[4], std::byte{'4'});
  ASSERT_TRUE(p.sync.send(as_bytes("56789")));
  std::array<std::byte, 5> rest{};
  EXPECT_EQ(p.async.next_layer().receive(rest).value(), 5U);  // nothing lost, nothing repeated
  EXPECT_EQ(rest[0], std::byte{'5'});
}

TEST_F(AsyncSocket, ACancelledWriteFrameSaysTheFrameWasAcceptedAndItStillGoesOut) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  frame_writer writer(p.async.next_layer());
  const auto big = pattern(900'000);  // more than the pair holds, within the frame limit
  net::cancellation_signal signal;
  std::error_code error;
  std::optional<bool> accepted;
  p.async.async_write_frame(
      writer, big,
      net::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, bool in_writer) {
        error = ec;
        accepted = in_writer;
      }));
  io.poll();
  ASSERT_FALSE(accepted);
  signal.emit(net::cancellation_type::terminal);
  io.run_for(watchdog);
  ASSERT_TRUE(accepted);
  EXPECT_TRUE(cancelled(error));
  EXPECT_TRUE(*accepted);  // so it must not be written again
  EXPECT_GT(writer.pending_bytes(), 0U);
  // An empty frame after it flushes both; the peer reads the big frame whole, then the empty.
  std::thread reader([&] {
    frame_reader in(p.sync);
    auto first = in.read();
    ASSERT_TRUE(first && first.value());
    EXPECT_TRUE(std::ranges::equal(*first.value(), big));
    auto second = in.read();
    ASSERT_TRUE(second && second.value());
    EXPECT_TRUE(second.value()->empty());
  });
  io.restart();
  std::optional<std::error_code> flushed;
  p.async.async_write_frame(writer, std::span<const std::byte>(),
                            [&](std::error_code ec, bool) { flushed = ec; });
  io.run_for(watchdog);
  reader.join();
  ASSERT_TRUE(flushed);
  EXPECT_FALSE(*flushed);
  EXPECT_EQ(writer.pending_bytes(), 0U);
}

// A write_frame whose writer first sends part of a backlog left by an earlier one has moved
// bytes: from then on it refuses total cancellation, as send_all does after its first byte.
TEST_F(AsyncSocket, AWriteFrameThatSentPartOfABacklogRefusesTotalCancellation) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  frame_writer writer(p.async.next_layer());
  const auto big = pattern(900'000);  // more than the pair holds: most of it stays in the writer
  std::optional<bool> accepted;
  p.async.async_write_frame(writer, big,
                            [&](std::error_code, bool in_writer) { accepted = in_writer; });
  io.poll();
  ASSERT_TRUE(p.async.cancel());
  io.run_for(watchdog);
  ASSERT_TRUE(accepted);
  ASSERT_TRUE(*accepted);  // its tail a backlog
  const std::size_t backlog = writer.pending_bytes();
  ASSERT_GT(backlog, 0U);
  const std::size_t read = drain(p.sync).size();  // room for part of the backlog
  ASSERT_GT(read, 0U);

  net::cancellation_signal signal;
  std::optional<std::error_code> error;
  const std::string small = "small";
  io.restart();
  p.async.async_write_frame(
      writer, as_bytes(small),
      net::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, bool) { error = ec; }));
  io.poll();
  ASSERT_FALSE(error);
  ASSERT_LT(writer.pending_bytes(), backlog);  // part of the backlog went out: bytes moved
  signal.emit(net::cancellation_type::total);
  io.poll();
  EXPECT_FALSE(error) << "total cancellation accepted after bytes moved: " << error->message();
  signal.emit(net::cancellation_type::terminal);
  io.run_for(watchdog);
  ASSERT_TRUE(error);
  EXPECT_TRUE(cancelled(*error)) << error->message();
}

TEST_F(AsyncSocket, TotalCancellationIsRefusedOnceBytesHaveMoved) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const auto out = pattern(4U << 20U);
  cancellable_transfer send;
  p.async.async_send_all(out, send.handler());
  io.poll();
  ASSERT_FALSE(send.count);
  send.signal.emit(net::cancellation_type::total);  // cannot be honoured: bytes went out
  io.poll();
  ASSERT_FALSE(send.count) << send.error.message();  // (else the reader below would wait forever)
  std::thread reader([&] {
    std::vector<std::byte> in(out.size());
    EXPECT_EQ(p.sync.receive_exact(in).value(), out.size());
    EXPECT_EQ(in, out);
  });
  io.run_for(watchdog);
  reader.join();
  ASSERT_TRUE(send.count);
  EXPECT_FALSE(send.error) << send.error.message();
  EXPECT_EQ(*send.count, out.size());
}

TEST_F(AsyncSocket, TotalCancellationOfAnIdleReceiveConsumesNothing) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 8> buffer{};
  cancellable_transfer receive;
  p.async.async_receive_exact(buffer, receive.handler());
  io.poll();
  receive.signal.emit(net::cancellation_type::total);
  io.run_for(watchdog);
  ASSERT_TRUE(receive.count);
  EXPECT_TRUE(cancelled(receive.error));
  EXPECT_EQ(*receive.count, 0U);
}

// cancel() after a receive_exact's readiness was seen but before its handler ran (a handler
// queued before it calls cancel()): the operation completes as cancelled with exactly what
// moved, the rest still queued, instead of going on to wait again. (The reactor makes the
// call before it queues the handler; on io_uring the call comes when the handler runs.)
TEST_F(AsyncSocket, CancelReachesAReceiveWhoseReadinessWasSeen) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 2> buffer{};
  cancellable_transfer receive;
  p.async.async_receive_exact(buffer, receive.handler());
  io.poll();  // the receive waits
  ASSERT_TRUE(p.sync.send(as_bytes("x")));
  net::post(io, [&] { EXPECT_TRUE(p.async.cancel()); });
  io.run_for(seconds(20));  // (a watchdog shorter than Bazel's timeout, to see the failure)
  ASSERT_TRUE(receive.count) << "still waiting after cancel()";
  EXPECT_TRUE(cancelled(receive.error)) << receive.error.message();
  ASSERT_LE(*receive.count, 1U);
  if (*receive.count == 1) {
    EXPECT_EQ(buffer[0], std::byte{'x'});
  }
  const socket<stream> back = p.async.release();
  std::byte left{};
  EXPECT_EQ(::recv(back.native_handle(), &left, 1, MSG_DONTWAIT), *receive.count == 1 ? -1 : 1);
}

TEST_F(AsyncSocket, ATimeoutCancelsAReceiveAndTheNextReceiveGetsTheData) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<seqpacket>(io.get_executor());
  std::array<std::byte, 8> buffer{};
  net::cancellation_signal signal;
  net::steady_timer timer(io, std::chrono::milliseconds(20));
  timer.async_wait([&](boost::system::error_code) { signal.emit(net::cancellation_type::all); });
  std::error_code first;
  p.async.async_receive(
      buffer, net::bind_cancellation_slot(signal.slot(),
                                          [&](std::error_code ec, std::size_t) { first = ec; }));
  io.run_for(watchdog);
  EXPECT_TRUE(cancelled(first)) << first.message();
  ASSERT_TRUE(p.sync.send(as_bytes("late")));
  io.restart();
  std::size_t got = 0;
  p.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });
  io.run_for(watchdog);
  EXPECT_EQ(got, 4U);
}

TEST_F(AsyncSocket, DestroyingTheEndCompletesAPendingOperationAsCancelled) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 8> buffer{};
  std::error_code error;
  bool done = false;
  {
    auto end = std::move(p.async);
    end.async_receive(buffer, [&](std::error_code ec, std::size_t) {
      error = ec;
      done = true;
    });
    io.poll();
  }
  io.run_for(watchdog);
  ASSERT_TRUE(done);
  EXPECT_TRUE(cancelled(error));
}

// An end that goes (released, or destroyed and its descriptor number given to another socket)
// after a receive's readiness was seen but before its handler ran: the receive either moved
// its byte before (and reports it) or completes with operation_canceled, having made no call
// after: the bytes stay with whoever holds the descriptor now. (On the reactor the call is
// made before the handler is queued; on io_uring the readiness wait completes first and the
// call is made when the handler runs, so that is where the end may already be gone.)
TEST_F(AsyncSocket, AReceiveReadyWhenItsEndGoesMakesNoCallAfterIt) {
  enum class way { release, destroy };
  enum class call { receive, receive_exact, receive_with_fds };
  for (const way how : {way::release, way::destroy}) {
    for (const call what : {call::receive, call::receive_exact, call::receive_with_fds}) {
      if (how == way::destroy && what == call::receive) {
        continue;  // (its step holds the end itself, which is gone: nothing left to observe)
      }
      SCOPED_TRACE(::testing::Message()
                   << "way " << static_cast<int>(how) << ", call " << static_cast<int>(what));
      net::io_context& io = fresh_io();
      auto p = make_mixed<stream>(io.get_executor());
      std::optional<decltype(p.async)> end(std::move(p.async));
      std::array<std::byte, 1> buffer{};
      std::error_code error;
      std::optional<std::size_t> count;
      auto done = [&](std::error_code ec, std::size_t n) {
        error = ec;
        count = n;
      };
      switch (what) {
        case call::receive:
          end->async_receive(buffer, done);
          break;
        case call::receive_exact:
          end->async_receive_exact(buffer, done);
          break;
        case call::receive_with_fds:
          end->async_receive_with_fds<1>(
              buffer,
              [done](std::error_code ec, received<inplace_fd_vector<1>> r) { done(ec, r.size); });
          break;
      }
      io.poll();  // the receive waits
      ASSERT_TRUE(p.sync.send(as_bytes("x")));
      // Queued behind the reactor's (or the ring's) next look, so it runs before the handler
      // of a receive whose readiness that look finds.
      bool queued_when_gone = false;
      socket<stream> back;                       // the end handed back (release)
      std::optional<socket_pair<stream>> other;  // a socket given the number (destroy)
      unique_fd reused;                          // that number, now the other socket's
      net::post(io, [&] {
        std::byte peeked{};
        queued_when_gone = ::recv(end->native_handle(), &peeked, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
        if (how == way::release) {
          back = end->release();
          return;
        }
        const int number = end->native_handle();
        end.reset();
        other.emplace(std::move(socket_pair<stream>::create()).value());
        ASSERT_EQ(::dup2(other->first.native_handle(), number), number);
        reused.reset(number);
        ASSERT_TRUE(other->second.send(as_bytes("y")));
      });
      io.run_for(watchdog);
      ASSERT_TRUE(count);
      if (queued_when_gone) {
        EXPECT_TRUE(cancelled(error)) << error.message();
        EXPECT_EQ(*count, 0U);
      } else {
        EXPECT_FALSE(error) << error.message();
        EXPECT_EQ(*count, 1U);
        EXPECT_EQ(buffer[0], std::byte{'x'});
      }
      if (how == way::release) {  // the byte is reported, or still there for the end given back
        EXPECT_EQ(drain(back).size(), queued_when_gone ? 1U : 0U);
      } else {  // nothing was taken from the socket that got the number
        ASSERT_TRUE(reused);
        std::byte peeked{};
        EXPECT_EQ(::recv(reused.get(), &peeked, 1, MSG_PEEK | MSG_DONTWAIT), 1);
      }
    }
  }
}
// ---- Descriptors --------------------------------------------------------------------------------

TEST_F(AsyncSocket, DescriptorsArriveOwnedWithTheirBytes) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<seqpacket>(io.get_executor());
  const auto [read_end, write_end] = make_pipe();
  std::array<std::byte, 16> buffer{};
  std::optional<received<inplace_fd_vector<2>>> got;
  p.async.async_receive_with_fds<2>(buffer,
                                    [&](std::error_code ec, received<inplace_fd_vector<2>> r) {
                                      EXPECT_FALSE(ec) << ec.message();
                                      got = std::move(r);
                                    });
  io.poll();
  ASSERT_TRUE(send_with_fds(p.sync, std::string_view("fd"), {write_end.get()}));
  io.run_for(watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size, 2U);
  ASSERT_EQ(got->fds.size(), 1U);
  EXPECT_TRUE(same_file(got->fds[0].get(), write_end.get()));
  EXPECT_TRUE(has_cloexec(got->fds[0].get()));
}

// One async_receive_with_fds<N> on `end`, its message sent by `send` (after the operation has
// looked once, when `late`); returns what the handler got.
template <std::size_t N, class End, class Send>
std::pair<std::error_code, received<inplace_fd_vector<N>>> receive_async(
    net::io_context& io, End& end, std::span<std::byte> buffer, fd_receive_options options,
    bool late, Send send) {
  std::optional<std::pair<std::error_code, received<inplace_fd_vector<N>>>> out;
  if (!late) {
    send();
  }
  io.restart();
  end.template async_receive_with_fds<N>(
      buffer, options,
      [&](std::error_code ec, received<inplace_fd_vector<N>> r) { out.emplace(ec, std::move(r)); });
  io.poll();
  if (late) {
    send();
  }
  io.run_for(watchdog);
  if (!out) {
    ADD_FAILURE() << "no completion";
    return {};
  }
  return std::move(*out);
}

// The asynchronous receive reports what the synchronous call reports, whether its message was
// there at the start or arrived while it waited: several descriptors in one message, in order;
// descriptors with credentials; more descriptors than room, or a longer message than the
// buffer (every descriptor closed); an empty stream buffer (EINVAL, nothing consumed); the
// end of the stream; a pidfd slot reset. Afterwards exactly the descriptors open before are.
TEST_F(AsyncSocket, ReceiveWithFdsReportsWhatTheSynchronousCallReports) {
  const auto before = open_fds();
  {
    net::io_context& io = fresh_io();
    const auto [read_end, write_end] = make_pipe();
    const std::array<int, 3> three = {read_end.get(), write_end.get(), read_end.get()};
    const std::string data = "abcd";
    for (const bool late : {false, true}) {
      auto p = make_mixed<seqpacket>(io.get_executor());
      std::array<std::byte, 8> buffer{};
      auto send = [&](std::span<const int> fds, std::size_t bytes) {
        ASSERT_TRUE(send_with_fds(p.sync, as_bytes(data).first(bytes), fds));
      };

      auto [ec, got] = receive_async<4>(io, p.async, buffer, {}, late, [&] { send(three, 4); });
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(got.size, 4U);
      ASSERT_EQ(got.fds.size(), 3U);
      EXPECT_TRUE(same_file(got.fds[0].get(), read_end.get()));
      EXPECT_TRUE(same_file(got.fds[1].get(), write_end.get()));
      EXPECT_TRUE(same_file(got.fds[2].get(), read_end.get()));
      EXPECT_FALSE(got.credentials);

      ASSERT_TRUE(set_receive_credentials(p.async.next_layer(), true));
      auto [with, with_got] = receive_async<1>(io, p.async, buffer, {}, late,
                                               [&] { send(std::span(three).first(1), 1); });
      ASSERT_FALSE(with) << with.message();
      EXPECT_EQ(with_got.size, 1U);
      ASSERT_EQ(with_got.fds.size(), 1U);
      EXPECT_TRUE(same_file(with_got.fds[0].get(), read_end.get()));
      ASSERT_TRUE(with_got.credentials);
      EXPECT_EQ(*with_got.credentials, current_credentials());
      ASSERT_TRUE(set_receive_credentials(p.async.next_layer(), false));

      auto [cut, cut_got] =
          receive_async<2>(io, p.async, buffer, {}, late, [&] { send(three, 2); });
      EXPECT_EQ(cut, errc::control_truncated);
      EXPECT_TRUE(cut_got.fds.empty());

      auto [longer, longer_got] =
          receive_async<1>(io, p.async, std::span(buffer).first(2), {}, late,
                           [&] { send(std::span(three).first(1), 4); });
      EXPECT_EQ(longer, errc::message_truncated);
      EXPECT_TRUE(longer_got.fds.empty());

      // A pidfd slot holding a descriptor is emptied (with SO_PASSPIDFD off, none arrives).
      unique_fd slot(::dup(read_end.get()));
      auto [reset, reset_got] = receive_async<1>(io, p.async, buffer, {.sender_pidfd = &slot}, late,
                                                 [&] { send(std::span(three).first(1), 1); });
      ASSERT_FALSE(reset) << reset.message();
      EXPECT_EQ(reset_got.fds.size(), 1U);
      EXPECT_FALSE(slot);
    }

    auto s = make_mixed<stream>(io.get_executor());
    std::array<std::byte, 4> buffer{};
    auto [empty, empty_got] =
        receive_async<1>(io, s.async, std::span(buffer).first(0), {}, false, [&] {
          ASSERT_TRUE(send_with_fds(s.sync, std::string_view("e"), std::span(three).first(1)));
        });
    EXPECT_EQ(empty, std::errc::invalid_argument);
    EXPECT_TRUE(empty_got.fds.empty());
    auto [queued, queued_got] = receive_async<1>(io, s.async, buffer, {}, false, [] {});
    ASSERT_FALSE(queued) << queued.message();
    EXPECT_EQ(queued_got.size, 1U);  // the message the refused receive left queued
    EXPECT_EQ(queued_got.fds.size(), 1U);
    auto [end, end_got] = receive_async<1>(
        io, s.async, buffer, {}, true, [&] { ASSERT_TRUE(s.sync.shutdown(shutdown_how::write)); });
    ASSERT_FALSE(end) << end.message();
    EXPECT_EQ(end_got.size, 0U);
    EXPECT_TRUE(end_got.fds.empty());
  }
  EXPECT_EQ(open_fds(), before);
}

// A deferred receive stores its operation's state until launched, and one started on a
// released end completes without a try: no descriptor, no byte, an error.
TEST_F(AsyncSocket, DeferredAndReleasedReceivesWithFdsKeepTheContract) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const auto [read_end, write_end] = make_pipe();
  std::array<std::byte, 4> buffer{};
  auto deferred = p.async.async_receive_with_fds<1>(buffer, net::deferred);
  ASSERT_TRUE(send_with_fds(p.sync, std::string_view("d"), {write_end.get()}));
  std::optional<received<inplace_fd_vector<1>>> got;
  std::move(deferred)([&](std::error_code ec, received<inplace_fd_vector<1>> r) {
    EXPECT_FALSE(ec) << ec.message();
    got = std::move(r);
  });
  io.run_for(watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size, 1U);
  ASSERT_EQ(got->fds.size(), 1U);
  EXPECT_TRUE(same_file(got->fds[0].get(), write_end.get()));

  io.restart();
  socket<stream> back = p.async.release();
  ASSERT_TRUE(send_with_fds(p.sync, std::string_view("r"), {write_end.get()}));
  std::optional<std::error_code> error;
  p.async.async_receive_with_fds<1>(buffer,
                                    [&](std::error_code ec, received<inplace_fd_vector<1>> r) {
                                      error = ec;
                                      EXPECT_EQ(r.size, 0U);
                                      EXPECT_TRUE(r.fds.empty());
                                    });
  io.run_for(watchdog);
  ASSERT_TRUE(error);
  EXPECT_TRUE(*error);
  // The message is still queued, whole, for the end handed back.
  auto rest = receive_with_fds<1>(back, buffer);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest.value().size, 1U);
  EXPECT_EQ(rest.value().fds.size(), 1U);
}

// A failed async_receive_with_fds leaves the sender_pidfd slot empty, as the synchronous call
// does ("reset at the start of the call"), also when it fails before any recvmsg(2): an empty
// buffer on a stream (EINVAL), an end already released (EBADF).
TEST_F(AsyncSocket, AFailedReceiveWithFdsLeavesNoSenderPidfd) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  std::array<std::byte, 0> nothing{};
  std::array<std::byte, 1> one{};
  socket<stream> back;
  for (const bool released : {false, true}) {
    SCOPED_TRACE(released ? "released end" : "empty buffer");
    auto [read_end, write_end] = make_pipe();
    const int held = read_end.get();
    unique_fd sender = std::move(read_end);
    if (released) {
      back = p.async.release();
    }
    std::optional<std::error_code> error;
    p.async.async_receive_with_fds<1>(
        released ? std::span<std::byte>(one) : std::span<std::byte>(nothing),
        {.sender_pidfd = &sender},
        [&](std::error_code ec, received<inplace_fd_vector<1>>) { error = ec; });
    io.restart();
    io.run_for(watchdog);
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, released ? std::errc::bad_file_descriptor : std::errc::invalid_argument)
        << error->message();
    EXPECT_FALSE(sender) << "a stale descriptor is left in the slot after a failure";
    EXPECT_FALSE(is_open(held));
  }
}

// An io_context destroyed with a failed async_receive_with_fds's completion still queued
// destroys the operation without touching the caller's sender_pidfd slot, which may be gone
// by then (Asio touches no operation's buffers then either). --config=asan sees such a write.
TEST(AsyncSocketShutdown, ADestroyedContextLeavesTheSenderPidfdSlotAlone) {
  auto io = std::make_unique<net::io_context>();
  bool ran = false;
  {
    auto p = make_mixed<stream>(io->get_executor());
    const socket<stream> back = p.async.release();
    auto slot = std::make_unique<unique_fd>();
    std::array<std::byte, 1> one{};
    p.async.async_receive_with_fds<1>(one, {.sender_pidfd = slot.get()},
                                      [&](std::error_code, received<inplace_fd_vector<1>>) {
                                        ran = true;  // never: the context is destroyed unrun
                                      });
  }  // the slot, the buffer and the ends are gone; the completion is still queued
  io.reset();
  EXPECT_FALSE(ran);
}

TEST_F(AsyncSocket, AsyncSendWithFdsPassesCopies) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const auto [read_end, write_end] = make_pipe();
  const std::array<int, 1> fds = {read_end.get()};
  const std::string data = "x";
  std::size_t sent = 0;
  p.async.async_send_with_fds(as_bytes(data), fds, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
  });
  io.run_for(watchdog);
  EXPECT_EQ(sent, 1U);
  std::array<std::byte, 1> one{};
  auto got = receive_with_fds<1>(p.sync, one);
  ASSERT_TRUE(got);
  ASSERT_EQ(got.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), read_end.get()));
}

// An end that refuses descriptors reads its stream with recv(2): recvmsg(2) on it would kill
// the child (seccomp), and the bytes still arrive, both from a speculative attempt (queued
// before the receive) and after a wait.
TEST_F(AsyncSocket, AnEndThatRefusesDescriptorsReceivesWithoutRecvmsg) {
  if (!kernel_at_least(6, 16)) {  // (the error before it: tests/fd_passing/identity_test.cpp)
    GTEST_SKIP() << "SO_PASSRIGHTS needs Linux >= 6.16";
  }
  const auto report = seccomp::run_in_child([](seccomp::child_context& child) -> std::string {
    net::io_context io;
    auto p = make_mixed<stream>(io.get_executor());
    if (!p.async.refuse_descriptors()) {
      return "refuse_descriptors failed";
    }
    seccomp::filter f;
    f.kill(SYS_recvmsg, {seccomp::arg_equals(0, p.async.native_handle())});
    if (!child.install(f)) {
      return "install failed";
    }
    std::string said;
    std::array<std::byte, 8> buffer{};
    for (const std::string_view word : {"queued", "waited"}) {
      const bool queued = word == "queued";
      if (queued && !p.sync.send(as_bytes(std::string(word)))) {
        return "send failed";  // (queued before the receive: its first attempt takes it)
      }
      std::optional<std::size_t> got;
      p.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
        if (!ec) {
          got = n;
        }
      });
      if (!queued) {
        io.poll();  // the receive now waits
        if (!p.sync.send(as_bytes(std::string(word)))) {
          return "send failed";
        }
      }
      io.restart();
      io.run_for(watchdog);
      if (!got || *got != word.size() ||
          std::string_view(reinterpret_cast<const char*>(buffer.data()), *got) != word) {
        said += std::string(word) + " not received; ";
      }
    }
    return said;
  });
  EXPECT_TRUE(report.passed()) << report.describe();
}

// Descriptors queued before the end refused them are still closed and reported; after it, a
// send carrying descriptors fails in the sender and plain bytes go on arriving.
TEST_F(AsyncSocket, RefusingDescriptorsStillReportsTheOnesAlreadyQueued) {
  if (!kernel_at_least(6, 16)) {  // (the error before it: tests/fd_passing/identity_test.cpp)
    GTEST_SKIP() << "SO_PASSRIGHTS needs Linux >= 6.16";
  }
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const auto [read_end, write_end] = make_pipe();
  ASSERT_TRUE(send_with_fds(p.sync, std::string_view("ab"), {write_end.get()}));
  ASSERT_TRUE(p.async.refuse_descriptors());
  std::array<std::byte, 16> buffer{};
  std::error_code first;
  p.async.async_receive(buffer, [&](std::error_code ec, std::size_t) { first = ec; });
  io.run_for(watchdog);
  EXPECT_EQ(first, errc::descriptors_discarded);

  auto refused = send_with_fds(p.sync, std::string_view("x"), {write_end.get()});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::operation_not_permitted);
  ASSERT_TRUE(p.sync.send(as_bytes("cd")));
  std::optional<std::size_t> second;
  p.async.async_receive(buffer, [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    second = n;
  });
  io.restart();
  io.run_for(watchdog);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 2U);
  EXPECT_EQ(buffer[1], std::byte{'d'});
}

TEST_F(AsyncSocket, CredentialsAttachedToAnAsyncSendArrive) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<seqpacket>(io.get_executor());
  ASSERT_TRUE(set_receive_credentials(p.sync, true));
  const std::string data = "who";
  std::optional<std::error_code> sent;
  p.async.async_send_with_fds(as_bytes(data), std::span<const int>(),
                              fd_send_options{.credentials = current_credentials()},
                              [&](std::error_code ec, std::size_t) { sent = ec; });
  io.run_for(watchdog);
  ASSERT_TRUE(sent);
  ASSERT_FALSE(*sent) << sent->message();
  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds<1>(p.sync, buffer);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got.value().credentials);
  EXPECT_EQ(*got.value().credentials, current_credentials());
}

// Cancellations land at every point of a stream of descriptor-carrying messages: each message
// is received exactly once (by a completion or by the final drain), and afterwards exactly the
// descriptors open before are open.
TEST_F(AsyncSocket, CancellationStormsLoseNoMessageAndLeakNoDescriptor) {
  const auto before = open_fds();
  {
    net::io_context& io = fresh_io();
    auto p = make_mixed<seqpacket>(io.get_executor());
    const unique_fd passed(::dup(STDERR_FILENO));
    constexpr int messages = 300;
    int received_count = 0;
    int cancelled_count = 0;
    std::array<std::byte, 8> buffer{};
    net::cancellation_signal signal;
    for (int i = 0; i < messages; ++i) {
      bool done = false;
      p.async.async_receive_with_fds<1>(
          buffer, net::bind_cancellation_slot(
                      signal.slot(), [&](std::error_code ec, received<inplace_fd_vector<1>> r) {
                        done = true;
                        if (cancelled(ec)) {
                          EXPECT_TRUE(r.fds.empty());
                          ++cancelled_count;
                          return;
                        }
                        ASSERT_FALSE(ec) << ec.message();
                        EXPECT_EQ(r.fds.size(), 1U);
                        ++received_count;
                      }));
      // Sometimes the message is there before the operation looks, sometimes it arrives
      // while it waits, sometimes never before the cancellation.
      if (i % 3 == 0) {
        ASSERT_TRUE(send_with_fds(p.sync, std::string_view("m"), {passed.get()}));
      }
      io.poll();
      if (i % 3 == 1) {
        ASSERT_TRUE(send_with_fds(p.sync, std::string_view("m"), {passed.get()}));
      }
      signal.emit(i % 2 == 0 ? net::cancellation_type::terminal : net::cancellation_type::total);
      io.restart();
      io.run_for(watchdog);
      ASSERT_TRUE(done);
      io.restart();
    }
    // What is still queued was never reported received: drain it synchronously.
    auto sync_end = p.async.release();
    ASSERT_TRUE(sync_end.set_nonblocking(true));
    for (;;) {
      auto got = receive_with_fds<1>(sync_end, buffer);
      if (!got) {
        EXPECT_EQ(got.error(), std::errc::operation_would_block);
        break;
      }
      EXPECT_EQ(got.value().fds.size(), 1U);
      ++received_count;
    }
    EXPECT_EQ(received_count, messages - messages / 3);  // every message sent, exactly once
    EXPECT_GT(cancelled_count, 0);
  }
  EXPECT_EQ(open_fds(), before);
}

// ---- Completion tokens
// ---------------------------------------------------------------------------

TEST_F(AsyncSocket, CoroutinesGetATupleAndNeverThrow) {
  net::io_context& io = fresh_io();
  auto [a, b] = std::move(socket_pair<seqpacket>::create()).value();
  auto x = std::move(async_socket<seqpacket>::create(io, std::move(a))).value();
  auto y = std::move(async_socket<seqpacket>::create(io, std::move(b))).value();
  std::string log;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        const std::string ping = "ping";
        auto [ec, n] = co_await x.async_send(as_bytes(ping), net::use_awaitable);
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, 4U);
        std::array<std::byte, 8> buffer{};
        auto [ec2, info] = co_await y.async_receive_message(buffer, net::use_awaitable);
        EXPECT_FALSE(ec2);
        EXPECT_EQ(info.size, 4U);
        static_cast<void>(y.release().close());  // x then reads the end of the stream
        auto [ec3, info3] = co_await x.async_receive_message(buffer, net::use_awaitable);
        EXPECT_FALSE(ec3);
        EXPECT_TRUE(info3.end_of_stream);
        log = "done";
      },
      net::detached);
  io.run_for(watchdog);
  EXPECT_EQ(log, "done");
}

TEST_F(AsyncSocket, FuturesDeferredAndAsTupleWork) {
  net::io_context& io = fresh_io();
  auto p = make_mixed<stream>(io.get_executor());
  const std::string data = "abc";
  std::future<std::tuple<std::error_code, std::size_t>> future =
      p.async.async_send(as_bytes(data), net::use_future);
  auto deferred = p.async.async_send(as_bytes(data), net::deferred);
  std::size_t deferred_sent = 0;
  std::move(deferred)([&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    deferred_sent = n;
  });
  std::size_t tuple_sent = 0;
  p.async.async_send(as_bytes(data), net::as_tuple([&](std::tuple<std::error_code, std::size_t> r) {
                       EXPECT_FALSE(std::get<0>(r));
                       tuple_sent = std::get<1>(r);
                     }));
  io.run_for(watchdog);
  auto [ec, n] = future.get();
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, 3U);
  EXPECT_EQ(deferred_sent, 3U);
  EXPECT_EQ(tuple_sent, 3U);
  EXPECT_EQ(drain(p.sync).size(), 9U);
}

// ---- Threads
// -------------------------------------------------------------------------------------

// Many pairs ping-ponging on one io_context run by several threads, each end on its own strand.
TEST_F(AsyncSocket, ManyPairsOnSeveralThreadsWithStrands) {
  const auto before = open_fds();
  {
    net::io_context& io = fresh_io();
    constexpr int pairs = 24;
    constexpr int rounds = 100;
    using strand = net::strand<net::io_context::executor_type>;
    struct session {
      async_socket<seqpacket, unix_domain, strand> left;
      async_socket<seqpacket, unix_domain, strand> right;
      std::array<std::byte, 8> left_buffer{};
      std::array<std::byte, 8> right_buffer{};
      int rounds = 0;
      std::function<void()> serve;
      std::function<void()> ping;
    };
    std::atomic<int> finished{0};
    std::vector<std::unique_ptr<session>> sessions;
    for (int i = 0; i < pairs; ++i) {
      auto [a, b] = std::move(socket_pair<seqpacket>::create()).value();
      auto s = std::make_unique<session>(
          session{std::move(async_socket<seqpacket, unix_domain, strand>::create(
                                net::make_strand(io), std::move(a)))
                      .value(),
                  std::move(async_socket<seqpacket, unix_domain, strand>::create(
                                net::make_strand(io), std::move(b)))
                      .value(),
                  {},
                  {},
                  0,
                  {},
                  {}});
      session* self = s.get();
      self->serve = [self] {
        self->right.async_receive_message(
            self->right_buffer, [self](std::error_code ec, message_info info) {
              if (ec || info.end_of_stream) {
                return;
              }
              self->right.async_send(std::span(self->right_buffer).first(info.stored),
                                     [self](std::error_code ec2, std::size_t) {
                                       if (!ec2) {
                                         self->serve();
                                       }
                                     });
            });
      };
      self->ping = [self, &finished] {
        self->left_buffer[0] = static_cast<std::byte>(self->rounds);
        self->left.async_send(
            std::span(self->left_buffer).first(1),
            [self, &finished](std::error_code ec, std::size_t) {
              ASSERT_FALSE(ec);
              self->left.async_receive_message(
                  self->left_buffer, [self, &finished](std::error_code ec2, message_info info) {
                    ASSERT_FALSE(ec2);
                    ASSERT_EQ(info.size, 1U);
                    ASSERT_EQ(self->left_buffer[0], static_cast<std::byte>(self->rounds));
                    if (++self->rounds == rounds) {
                      ++finished;
                      static_cast<void>(self->left.release().close());  // ends serve()
                      return;
                    }
                    self->ping();
                  });
            });
      };
      net::dispatch(self->right.get_executor(), [self] { self->serve(); });
      net::dispatch(self->left.get_executor(), [self] { self->ping(); });
      sessions.push_back(std::move(s));
    }
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&io] { io.run_for(watchdog); });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(finished.load(), pairs);
  }
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
}  // namespace sockpair::testing
