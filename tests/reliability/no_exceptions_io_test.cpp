// The library's I/O, descriptor passing, framing and batching, built with -fno-exceptions
// -fno-rtti (what embedded and game code often compiles with) and run. GoogleTest is left out
// so that nothing else needs exceptions; each check prints what failed and the program exits
// non-zero, and the descriptor set must be the same at the end as at the start. (The
// foundation alone is covered by //tests:no_exceptions_test.)
#include <socketpair/socketpair.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "tests/support/fds.hpp"

namespace {

int failures = 0;
int checks = 0;

void check(bool ok, const char* what) {
  ++checks;
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

bool equal(std::span<const std::byte> got, std::string_view want) {
  return got.size() == want.size() && std::memcmp(got.data(), want.data(), want.size()) == 0;
}

void stream_io() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  check(static_cast<bool>(pair), "stream pair");
  if (!pair) {
    return;
  }
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  check(a.send_all(bytes("hello, world")).has_value(), "send_all");
  std::array<std::byte, 5> head{};
  auto peeked = b.peek(head);
  check(peeked && peeked.value() == 5 && equal(head, "hello"), "peek");
  std::array<std::byte, 12> all{};
  sockpair::incoming into_all(all);
  check(
      b.receive_exact(into_all).has_value() && into_all.done() == 12 && equal(all, "hello, world"),
      "receive_exact");

  std::array<std::byte, 3> x{};
  std::array<std::byte, 4> y{};
  const std::array<std::span<const std::byte>, 2> out = {bytes("abc"), bytes("defg")};
  const std::array<std::span<std::byte>, 2> in = {std::span(x), std::span(y)};
  check(a.send_all(std::span<const std::span<const std::byte>>(out)).has_value(), "gather");
  check(b.receive_exact(std::span<const std::span<std::byte>>(in)).has_value() && equal(x, "abc") &&
            equal(y, "defg"),
        "scatter");

  auto idle = b.wait_readable(std::chrono::milliseconds(1));
  check(idle && idle.value() == sockpair::readiness::timed_out, "wait_readable times out");
  check(a.set_send_buffer_size(std::size_t{64} * 1024).has_value(), "set_send_buffer_size");
  auto size = a.send_buffer_size();
  check(size && size.value() >= std::size_t{64} * 1024, "send_buffer_size");
  check(a.set_nonblocking(true).has_value(), "set_nonblocking");
  std::array<std::byte, 1> one{};
  auto empty = a.receive(one);
  check(!empty && empty.error() == std::errc::operation_would_block, "would block");

  check(a.shutdown(sockpair::shutdown_how::write).has_value(), "shutdown");
  auto eof = b.receive(one);
  check(eof && eof.value() == 0, "EOF after shutdown");
  auto broken = a.send(bytes("late"));
  check(!broken && broken.error() == std::errc::broken_pipe, "EPIPE without exceptions");

  auto adopted = sockpair::socket<sockpair::stream>::adopt(sockpair::unique_fd(b.release()));
  check(static_cast<bool>(adopted), "adopt a stream socket");
  auto wrong = sockpair::socket<sockpair::seqpacket>::adopt(
      sockpair::unique_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
  check(!wrong && wrong.error() == sockpair::errc::wrong_socket_kind, "adopt refuses a file");
}

void messages() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  check(static_cast<bool>(pair), "seqpacket pair");
  if (!pair) {
    return;
  }
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  check(a.send(bytes("a longer message")).has_value(), "send a message");
  std::array<std::byte, 4> small{};
  auto cut = b.receive(small);
  check(!cut && cut.error() == sockpair::errc::message_truncated, "truncation is an error");
  check(a.send(bytes("")).has_value(), "send an empty message");
  static_cast<void>(a.shutdown(sockpair::shutdown_how::write));
  auto empty = b.receive_message(small);
  check(empty && empty.value().size == 0 && !empty.value().end_of_stream, "empty message");
  auto end = b.receive_message(small);
  check(end && end.value().end_of_stream, "end of stream");
}

void descriptors() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  check(static_cast<bool>(pair), "pair for descriptors");
  if (!pair) {
    return;
  }
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const sockpair::unique_fd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  check(sockpair::send_with_fds(a, bytes("fd"), {file.get()}).has_value(), "send_with_fds");
  std::array<std::byte, 8> buffer{};
  {
    auto got = sockpair::receive_with_fds<1>(b, buffer);
    check(got && got.value().fds.size() == 1, "receive_with_fds<1>");
    check(got && sockpair::testing::same_file(got.value().fds[0].get(), file.get()),
          "the same file arrived");
  }
  check(sockpair::send_with_fds(a, bytes("two"), {file.get(), file.get()}).has_value(), "send two");
  {
    auto got = sockpair::receive_with_fds<1>(b, buffer);
    check(!got && got.error() == sockpair::errc::control_truncated, "too many for room");
  }
  check(sockpair::send_with_fds(a, bytes("v"), {file.get()}).has_value(), "send again");
  {
    auto got = sockpair::receive_with_fds(b, buffer);  // the std::vector overload
    check(got && got.value().fds.size() == 1, "receive_with_fds into a vector");
  }
#if defined(__linux__)
  check(sockpair::set_receive_credentials(b, true).has_value(), "SO_PASSCRED");
  check(sockpair::send_with_credentials(a, bytes("c")).has_value(), "send_with_credentials");
  auto creds = sockpair::receive_with_fds<1>(b, buffer);
  check(creds && creds.value().credentials &&
            creds.value().credentials->pid == sockpair::current_credentials().pid,
        "credentials arrive");
  auto peer = sockpair::peer_credentials(a);
  check(peer && peer.value().pid == ::getpid(), "peer_credentials");
#endif
}

void framing() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  check(static_cast<bool>(pair), "pair for frames");
  if (!pair) {
    return;
  }
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  sockpair::frame_writer writer(a);
  check(writer.write(bytes("first")).has_value(), "frame_writer::write");
  check(writer.write(bytes("")).has_value(), "empty frame");
  check(writer.flush().has_value(), "flush");
  static_cast<void>(a.shutdown(sockpair::shutdown_how::write));
  sockpair::frame_reader reader(b);
  auto first = reader.read();
  check(first && first.value() && equal(*first.value(), "first"), "frame_reader::read");
  auto second = reader.read();
  check(second && second.value() && second.value()->empty(), "empty frame read");
  auto end = reader.read();
  check(end && !end.value(), "clean end");

  int fds[2];
  check(::pipe2(fds, O_CLOEXEC) == 0, "pipe");
  sockpair::fd_stream out(fds[1]);
  sockpair::fd_stream in(fds[0]);
  sockpair::frame_writer pipe_writer(out, {.flush_threshold = 0});
  check(pipe_writer.write(bytes("over a pipe")).has_value(), "frame over a pipe");
  sockpair::frame_reader pipe_reader(in, {.max_frame_size = 4});
  auto too_big = pipe_reader.read();
  check(!too_big && too_big.error() == sockpair::errc::frame_too_large, "frame_too_large");
  ::close(fds[0]);
  ::close(fds[1]);
}

void batches() {
  auto pair = sockpair::socket_pair<sockpair::dgram>::create();
  check(static_cast<bool>(pair), "dgram pair");
  if (!pair) {
    return;
  }
  auto& a = pair.value().first;
  auto& b = pair.value().second;
  const std::array<std::span<const std::byte>, 3> out = {bytes("one"), bytes("two"),
                                                         bytes("three")};
  auto sent = sockpair::send_batch(a, out);
  check(sent && sent.value() == 3, "send_batch");
  std::array<std::array<std::byte, 8>, 3> storage{};
  const std::array<std::span<std::byte>, 3> in = {storage[0], storage[1], storage[2]};
  std::array<sockpair::message_info, 3> info{};
  auto got = sockpair::receive_batch(b, in, info);
  check(got && got.value() == 3 && info[2].stored == 5 &&
            equal(std::span(storage[2]).first(5), "three"),
        "receive_batch");
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): built with -fno-exceptions (BUILD.bazel)
int main() {
  const auto before = sockpair::testing::open_fds();
  stream_io();
  messages();
  descriptors();
  framing();
  batches();
  check(sockpair::testing::open_fds() == before, "no descriptor leaked");
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
