// One errno value, one std::error_code: every path of the library that reports EINVAL, ENOMEM,
// EMSGSIZE or EIO, whether the kernel said it or the library decided it, reports the same
// value in the same category, system_category() (where the kernel's errors arrive), so that
// two of them compare equal with `==` on std::error_code, not only against a std::errc
// condition. The out-of-memory paths are driven by a real allocation failure
// (tests/support/failing_allocator.hpp). tests/error_category_scan_test.sh keeps the headers
// from building errno values any other way.
#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tests/support/failing_allocator.hpp"

namespace {

using sockpair::testing::failing_allocations;

struct labelled {
  std::string path;
  std::error_code error;
};

template <class T>
labelled error_of(std::string path, const sockpair::result<T>& r) {
  EXPECT_FALSE(r) << path << " succeeded";
  return {std::move(path), r ? std::error_code() : r.error()};
}

// Every code must equal errno `value` in system_category, and so each other.
void expect_one_code(int value, const std::vector<labelled>& codes) {
  const std::error_code expected(value, std::system_category());
  for (const auto& c : codes) {
    EXPECT_EQ(c.error, expected) << c.path << ": " << c.error.category().name() << " "
                                 << c.error.value() << " (" << c.error.message() << ")";
  }
  for (const auto& a : codes) {
    for (const auto& b : codes) {
      EXPECT_TRUE(a.error == b.error) << a.path << " != " << b.path;
    }
  }
}

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

TEST(ErrorCodes, EveryInvalidArgumentIsTheSameCode) {
  auto [a, b] = sockpair::socket_pair<sockpair::stream>::create().value();
  auto [m, n] = sockpair::socket_pair<sockpair::seqpacket>::create().value();
  std::array<std::byte, 4> buffer{};
  std::vector<labelled> codes;
  // (A `done` past the data was EINVAL too, in two categories; transfers made it impossible.)
  const std::span<std::byte> empty;
  codes.push_back(error_of("receive(empty buffer)", b.receive(empty)));
  const std::array<std::span<std::byte>, 2> no_room = {empty, empty};
  codes.push_back(error_of("receive(empty buffers)",
                           b.receive(std::span<const std::span<std::byte>>(no_room))));
  codes.push_back(error_of("peek(empty buffer)", b.peek(empty)));
  std::array<std::span<std::byte>, 2> in = {buffer, buffer};
  std::array<sockpair::message_info, 1> results{};
  codes.push_back(
      error_of("receive_batch(results too few)", sockpair::receive_batch(n, in, results)));
  const int fd = b.native_handle();
  codes.push_back(error_of("send_with_fds(stream, no byte)",
                           sockpair::send_with_fds(a, std::span<const std::byte>(), {fd})));
  codes.push_back(
      error_of("set_send_buffer_size(2^40)", a.set_send_buffer_size(std::size_t{1} << 40)));
  codes.push_back(
      error_of("set_send_timeout(-1ms)", a.set_send_timeout(std::chrono::milliseconds(-1))));
  codes.push_back(
      error_of("shutdown(99), the kernel's", a.shutdown(static_cast<sockpair::shutdown_how>(99))));
  expect_one_code(EINVAL, codes);
  static_cast<void>(m);
}

TEST(ErrorCodes, EveryOutOfMemoryIsTheSameCode) {
  auto [a, b] = sockpair::socket_pair<sockpair::stream>::create().value();
  auto [m, n] = sockpair::socket_pair<sockpair::seqpacket>::create().value();
  // 17 buffers: more than io_vector describes without allocating.
  std::array<std::byte, 17> storage{};
  std::vector<std::span<const std::byte>> out;
  std::vector<std::span<std::byte>> in;
  for (std::byte& byte : storage) {
    out.emplace_back(&byte, 1);
    in.emplace_back(&byte, 1);
  }
  const std::span<const std::span<const std::byte>> gather(out);
  const std::span<const std::span<std::byte>> scatter(in);
  sockpair::fd_stream pipe_like(a.native_handle());
  sockpair::frame_reader reader(b);
  // Nothing may allocate inside the failing scope but the calls themselves: the results are
  // kept as they are, labelled after.
  auto code = [](const auto& r) { return r ? std::error_code() : r.error(); };
  std::array<std::error_code, 4> got{};
  std::size_t failed = 0;
  {
    failing_allocations fail;
    got[0] = code(a.send(gather));
    got[1] = code(n.receive_message(scatter));
    got[2] = code(pipe_like.send(gather));
    got[3] = code(reader.read());
    failed = failing_allocations::failed();
  }
  EXPECT_EQ(failed, 4U) << "each call met one failed allocation";
  const std::vector<labelled> codes = {{"send(buffers) (io_vector)", got[0]},
                                       {"receive_message(buffers) (io_vector)", got[1]},
                                       {"fd_stream::send(buffers)", got[2]},
                                       {"frame_reader::read (byte_buffer)", got[3]}};
  expect_one_code(ENOMEM, codes);
  static_cast<void>(m);
}

TEST(ErrorCodes, EveryMessageTooLongIsTheSameCode) {
  auto [m, n] = sockpair::socket_pair<sockpair::seqpacket>::create().value();
  std::vector<labelled> codes;
  // The library's check: more buffers than one message may have.
  std::array<std::byte, 1> one{};
  const std::vector<std::span<const std::byte>> many(sockpair::max_io_buffers + 1, one);
  codes.push_back(error_of("send(buffers > IOV_MAX)",
                           m.send(std::span<const std::span<const std::byte>>(many))));
  // The kernel's: a message larger than the send buffer.
  const std::vector<std::byte> huge(std::size_t{8} << 20);
  codes.push_back(error_of("send(8 MiB), the kernel's", m.send(huge)));
  expect_one_code(EMSGSIZE, codes);
  static_cast<void>(n);
}

// A stream that breaks the byte_stream contract: accepts nothing and reports no error.
struct stalled_stream {
  [[nodiscard]] sockpair::result<std::size_t> send(std::span<const std::byte> /*d*/) noexcept {
    return std::size_t{0};
  }
  [[nodiscard]] sockpair::result<std::size_t> receive(std::span<std::byte> /*b*/) noexcept {
    return std::size_t{0};
  }
};

TEST(ErrorCodes, AnInputOutputErrorIsTheKernelsCode) {
  stalled_stream stalled;
  sockpair::frame_writer writer(stalled);
  ASSERT_TRUE(writer.write(bytes_of("x")));
  std::vector<labelled> codes;
  codes.push_back(error_of("frame_writer::flush (send returned 0)", writer.flush()));
  const int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::array<std::byte, 1> byte{};
  sockpair::fd_stream directory(fd);
  codes.push_back(error_of("read(2) of a directory, the kernel's EISDIR", directory.receive(byte)));
  ::close(fd);
  EXPECT_EQ(codes[0].error, std::error_code(EIO, std::system_category()))
      << codes[0].error.category().name();
  EXPECT_EQ(codes[1].error.category(), codes[0].error.category());
}

}  // namespace
