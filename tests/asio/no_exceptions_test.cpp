// Built with -fno-exceptions -fno-rtti: socketpair/asio.hpp with callbacks, `deferred` and a
// cancellation needs neither (Asio's co_spawn does: it catches, so coroutines need
// exceptions). Exits non-zero on the first failed check; no GoogleTest, which needs exceptions.
#include <socketpair/asio.hpp>
#include <socketpair/socket_pair.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <system_error>
#include <utility>

// Boost without exceptions: the program says what happens where Boost would throw.
namespace boost {
void throw_exception(const std::exception& e) {
  std::fprintf(stderr, "boost::throw_exception: %s\n", e.what());
  std::abort();
}
void throw_exception(const std::exception& e, const boost::source_location&) { throw_exception(e); }
}  // namespace boost

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  using end_type = sockpair::asio::async_socket<sockpair::seqpacket>;
  boost::asio::io_context io;
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    return 1;
  }
  auto [a, b] = std::move(pair).value();
  auto x = end_type::create(io, std::move(a));
  auto y = end_type::create(io, std::move(b));
  if (!x || !y) {
    return 1;
  }
  std::array<std::byte, 4> out{std::byte{7}};
  std::array<std::byte, 8> in{};

  // A receive that waits, cancelled: nothing consumed.
  boost::asio::cancellation_signal signal;
  std::error_code cancelled;
  y.value().async_receive_message(
      in, boost::asio::bind_cancellation_slot(
              signal.slot(), [&](std::error_code ec, sockpair::message_info) { cancelled = ec; }));
  io.poll();
  signal.emit(boost::asio::cancellation_type::total);
  io.run();
  check(cancelled == std::errc::operation_canceled, "a waiting receive is cancelled");

  // A send (callback), then a receive (deferred).
  io.restart();
  std::size_t sent = 0;
  sockpair::message_info got;
  x.value().async_send(out, [&](std::error_code ec, std::size_t n) {
    check(!ec, "async_send succeeds");
    sent = n;
    y.value().async_receive_message(
        in, boost::asio::deferred)([&](std::error_code ec2, sockpair::message_info info) {
      check(!ec2, "async_receive_message succeeds");
      got = info;
    });
  });
  io.run();
  check(sent == out.size(), "the whole message is sent");
  check(got.size == out.size() && in[0] == std::byte{7}, "the message arrives whole");
  return failures == 0 ? 0 : 1;
}
