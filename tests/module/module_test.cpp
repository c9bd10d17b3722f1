// `import sockpair;` from a program that includes none of the library's headers: creation,
// an error, I/O, descriptor passing and framing through the module's exported names. Built
// with and without exceptions (tools/module-test, CMake). Exits non-zero on the first failed
// check; prints `module_test: N checks, M failed`.
//
// The import comes before the #includes: with clang 16, a standard header included first and
// then met again in the module's global fragment can fail the ODR check ("'std::__detail::
// __common_cmp_cat' has different definitions in different modules"). <chrono> is left out
// on purpose: send() instantiates the library's duration arithmetic here, in the importer,
// which must then find std::chrono's operators through the module alone.
import sockpair;

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

namespace {

int checks = 0;
int failures = 0;

void check(bool ok, const char* what) {
  ++checks;
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

// A function returning a result, as user code would write it (no BOOST_OUTCOME_TRY: macros
// do not cross a module boundary).
sockpair::result<std::size_t> round_trip(sockpair::socket<sockpair::seqpacket>& a,
                                         sockpair::socket<sockpair::seqpacket>& b) {
  auto sent = a.send(std::string_view("ping"));
  if (!sent) {
    return sent.error();
  }
  std::array<char, 16> in{};
  auto got = b.receive(in);
  if (!got) {
    return got.error();
  }
  if (std::string_view(in.data(), got.value()) != "ping") {
    return sockpair::errc::message_truncated;
  }
  return got.value();
}

void creation_and_errors() {
  auto bad = sockpair::socket_pair<sockpair::stream>::create({.protocol = 99});
  check(!bad, "create() with a bad protocol fails");
  check(!bad && bad.error() == std::errc::protocol_not_supported, "with EPROTONOSUPPORT");
  const sockpair::result<int> mine = sockpair::errc::unexpected_eof;
  check(mine.error() == sockpair::errc::unexpected_eof, "result converts from sockpair::errc");
  check(&mine.error().category() == &sockpair::error_category(), "in the library's category");
  const sockpair::result<void> ok = sockpair::success();
  check(ok.has_value(), "success() makes a result<void>");
  check(sockpair::version.string != nullptr && sockpair::version.string[0] != '\0',
        "sockpair::version is exported");
}

void io() {
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  check(pair.has_value(), "create() a seqpacket pair");
  if (!pair) {
    return;
  }
  auto [a, b] = std::move(pair).value();
  auto n = round_trip(a, b);
  check(n.has_value() && n.value() == 4, "one message each way");
  check(a.shutdown(sockpair::shutdown_how::write).has_value(), "shutdown(write)");
  std::array<std::byte, 8> buf{};
  auto end = b.receive(sockpair::writable_bytes_of(buf));
  check(end.has_value() && end.value() == 0, "end of stream after shutdown");
}

void descriptor_passing() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  check(pair.has_value(), "create() a stream pair");
  if (!pair) {
    return;
  }
  auto [a, b] = std::move(pair).value();
  int p[2];
  check(::pipe2(p, O_CLOEXEC) == 0, "pipe2");
  const sockpair::unique_fd read_end(p[0]);
  const sockpair::unique_fd write_end(p[1]);
  auto sent = sockpair::send_with_fds(a, std::string_view("fd"), {write_end.get()});
  check(sent.has_value() && sent.value() == 2, "send_with_fds");
  std::array<char, 8> name{};
  auto got = sockpair::receive_with_fds<1>(b, name);
  check(got.has_value() && got.value().size == 2 && got.value().fds.size() == 1,
        "receive_with_fds<1> gets the bytes and one descriptor");
  if (!got || got.value().fds.size() != 1) {
    return;
  }
  const sockpair::unique_fd passed = std::move(got.value().fds[0]);
  const char x = 'x';
  check(::write(passed.get(), &x, 1) == 1, "write through the passed descriptor");
  char y = 0;
  check(::read(read_end.get(), &y, 1) == 1 && y == 'x', "arrives at the pipe's read end");
}

void framing() {
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  check(pair.has_value(), "create() a stream pair for frames");
  if (!pair) {
    return;
  }
  auto [a, b] = std::move(pair).value();
  sockpair::frame_writer out(a);
  sockpair::frame_reader in(b);
  const std::string_view texts[] = {"hello", "", "frames"};
  for (const std::string_view text : texts) {
    check(out.write(std::as_bytes(std::span(text))).has_value(), "frame_writer::write");
  }
  check(out.flush().has_value(), "frame_writer::flush");
  for (const std::string_view text : texts) {
    auto frame = in.read();
    check(frame.has_value() && frame.value().has_value(), "frame_reader::read");
    if (!frame || !frame.value()) {
      return;
    }
    const auto bytes = *frame.value();
    check(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()) == text,
          "the frame's bytes");
  }
}

}  // namespace

int main() {
  creation_and_errors();
  io();
  descriptor_passing();
  framing();
  std::printf("module_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
