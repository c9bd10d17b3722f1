// framing.hpp and batch.hpp built with -fno-exceptions -fno-rtti: a frame and a batch make a
// round trip. Exits non-zero on the first failed step (no GoogleTest, which needs exceptions).
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <array>
#include <cstdio>
#include <span>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "FAILED: %s\n", what);
  return 1;
}

int frame_round_trip() {
  auto streams = sockpair::socket_pair<sockpair::stream>::create();
  if (!streams) {
    return fail("create a stream pair");
  }
  sockpair::frame_writer writer(streams.assume_value().first);
  sockpair::frame_reader reader(streams.assume_value().second);
  const std::array<std::byte, 3> message{std::byte{1}, std::byte{2}, std::byte{3}};
  if (!writer.write(message) || !writer.flush()) {
    return fail("write and flush a frame");
  }
  auto frame = reader.read();
  if (!frame || !frame.assume_value() || frame.assume_value()->size() != 3 ||
      (*frame.assume_value())[2] != message[2]) {
    return fail("read the frame back");
  }
  return 0;
}

int batch_round_trip() {
  auto packets = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!packets) {
    return fail("create a seqpacket pair");
  }
  const std::array<std::byte, 3> message{std::byte{1}, std::byte{2}, std::byte{3}};
  const std::array<std::span<const std::byte>, 2> out{message, message};
  auto sent = sockpair::send_batch(packets.assume_value().first, out);
  if (!sent || sent.assume_value() != 2) {
    return fail("send a batch of two");
  }
  std::array<std::byte, 2> small{};
  std::array<std::byte, 8> large{};
  const std::array<std::span<std::byte>, 2> in{small, large};
  std::array<sockpair::message_info, 2> info{};
  std::size_t got = 0;
  while (got < 2) {
    auto n = sockpair::receive_batch(packets.assume_value().second, std::span(in).subspan(got),
                                     std::span(info).subspan(got));
    if (!n) {
      return fail("receive the batch");
    }
    got += n.assume_value();
  }
  if (!info[0].truncated() || info[0].stored != 2 || info[1].truncated() || info[1].stored != 3) {
    return fail("per-message sizes and truncation");
  }
  return 0;
}

}  // namespace

int main() {
  if (frame_round_trip() != 0 || batch_round_trip() != 0) {
    return 1;
  }
  std::puts("framing and batch work without exceptions");
  return 0;
}
