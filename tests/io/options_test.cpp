// Socket options as typed calls (checked against what the kernel reports through the raw
// calls), and adopting a raw descriptor with a check of its kind.
#include <socketpair/socketpair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string_view>

#include "tests/io/io_support.hpp"
#include "tests/support/fds.hpp"

namespace sockpair::testing {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

int raw_int_option(int fd, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, name, &value, &len), 0);
  return value;
}

TEST(BufferSizes, LinuxDoublesTheValueGivenAndReportsWhatItUses) {
  auto pair = socket_pair<stream>::create().value();
  auto& s = pair.first;
  ASSERT_TRUE(s.set_send_buffer_size(std::size_t{64} * 1024));
  ASSERT_TRUE(s.set_receive_buffer_size(std::size_t{48} * 1024));
  EXPECT_EQ(s.send_buffer_size().value(), 2u * 64 * 1024);
  EXPECT_EQ(s.receive_buffer_size().value(), 2u * 48 * 1024);
  EXPECT_EQ(s.send_buffer_size().value(),
            static_cast<std::size_t>(raw_int_option(s.native_handle(), SO_SNDBUF)));
  EXPECT_EQ(s.receive_buffer_size().value(),
            static_cast<std::size_t>(raw_int_option(s.native_handle(), SO_RCVBUF)));
  EXPECT_EQ(s.set_send_buffer_size(std::size_t{1} << 40).error(), std::errc::invalid_argument);
}

TEST(Timeouts, RoundTripThroughTheKernelAndZeroMeansNone) {
  auto pair = socket_pair<seqpacket>::create().value();
  auto& s = pair.first;
  EXPECT_EQ(s.receive_timeout().value(), microseconds(0)) << "none by default";
  ASSERT_TRUE(s.set_receive_timeout(milliseconds(1500)));
  ASSERT_TRUE(s.set_send_timeout(std::chrono::seconds(3)));
  EXPECT_EQ(s.receive_timeout().value(), milliseconds(1500));
  EXPECT_EQ(s.send_timeout().value(), std::chrono::seconds(3));
  timeval raw{};
  socklen_t len = sizeof raw;
  ASSERT_EQ(::getsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &raw, &len), 0);
  EXPECT_EQ(raw.tv_sec, 1);
  EXPECT_EQ(raw.tv_usec, 500'000);
  ASSERT_TRUE(s.set_receive_timeout(microseconds(0)));
  EXPECT_EQ(s.receive_timeout().value(), microseconds(0));
  EXPECT_EQ(s.set_send_timeout(milliseconds(-1)).error(), std::errc::invalid_argument);
}

TEST(DescriptorFlags, NonBlockingAndCloseOnExecToggleAndReadBack) {
  auto pair = socket_pair<dgram>::create().value();
  auto& s = pair.first;
  EXPECT_FALSE(s.nonblocking().value());
  ASSERT_TRUE(s.set_nonblocking(true));
  EXPECT_TRUE(is_nonblocking(s.native_handle()));
  EXPECT_TRUE(s.nonblocking().value());
  ASSERT_TRUE(s.set_nonblocking(false));
  EXPECT_FALSE(is_nonblocking(s.native_handle()));

  EXPECT_TRUE(s.cloexec().value());
  ASSERT_TRUE(s.set_cloexec(false));
  EXPECT_FALSE(has_cloexec(s.native_handle()));
  EXPECT_FALSE(s.cloexec().value());
  ASSERT_TRUE(s.set_cloexec(true));
  EXPECT_TRUE(has_cloexec(s.native_handle()));
  // The other end is a separate descriptor: untouched.
  EXPECT_TRUE(has_cloexec(pair.second.native_handle()));
}

TEST(QueueSizes, BytesReadableCountsWhatAReceiveCouldTake) {
  {
    auto pair = socket_pair<stream>::create().value();
    EXPECT_EQ(pair.second.bytes_readable().value(), 0u);
    ASSERT_TRUE(pair.first.send(std::string_view("12345")));
    ASSERT_TRUE(pair.first.send(std::string_view("678")));
    EXPECT_EQ(pair.second.bytes_readable().value(), 8u);
  }
  {
    auto pair = socket_pair<seqpacket>::create().value();  // every queued byte
    ASSERT_TRUE(pair.first.send(std::string_view("12345")));
    ASSERT_TRUE(pair.first.send(std::string_view("678")));
    EXPECT_EQ(pair.second.bytes_readable().value(), 8u);
  }
  {
    auto pair = socket_pair<dgram>::create().value();  // the next message
    ASSERT_TRUE(pair.first.send(std::string_view("12345")));
    ASSERT_TRUE(pair.first.send(std::string_view("678")));
    EXPECT_EQ(pair.second.bytes_readable().value(), 5u);
  }
}

TEST(QueueSizes, BytesUnsentCoversWhatThePeerHasNotReadThenDropsToZero) {
  auto pair = socket_pair<stream>::create().value();
  EXPECT_EQ(pair.first.bytes_unsent().value(), 0u);
  ASSERT_TRUE(pair.first.send(std::string_view("abc")));
  // AF_UNIX counts the memory the queued data occupies: at least the payload.
  EXPECT_GE(pair.first.bytes_unsent().value(), 3u);
  std::array<char, 3> buffer{};
  ASSERT_TRUE(pair.second.receive_exact(buffer));
  EXPECT_EQ(pair.first.bytes_unsent().value(), 0u);
}

// ---- adopt --------------------------------------------------------------------------------

TEST(Adopt, TakesARawSocketOfTheRightKindAndItWorks) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  auto a = socket<seqpacket>::adopt(unique_fd(fds[0]));
  auto b = socket<seqpacket>::adopt(unique_fd(fds[1]));
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(a.value().native_handle(), fds[0]);
  ASSERT_TRUE(a.value().send(std::string_view("adopted")));
  std::array<char, 16> buffer{};
  EXPECT_EQ(b.value().receive_message(buffer).value().size, 7u);
}

TEST(Adopt, ReleaseAndAdoptAgainKeepsTheSameDescriptor) {
  auto pair = socket_pair<stream>::create().value();
  const int fd = pair.first.release();
  EXPECT_FALSE(pair.first);
  auto again = socket<stream>::adopt(unique_fd(fd));
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().native_handle(), fd);
}

TEST(Adopt, AWrongTypeIsRefusedAndATemporaryDescriptorClosed) {
  auto pair = socket_pair<seqpacket>::create().value();
  const int fd = pair.first.release();
  auto wrong = socket<stream>::adopt(unique_fd(fd));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_socket_kind);
  EXPECT_EQ(wrong.error(), std::errc::wrong_protocol_type);
  EXPECT_FALSE(is_open(fd)) << "handed back to a temporary, which closed it";
}

TEST(Adopt, AWrongDomainIsRefused) {
  const int inet = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(inet, 0);
  auto wrong = socket<stream>::adopt(unique_fd(inet));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_socket_kind);
  EXPECT_FALSE(is_open(inet));
}

TEST(Adopt, SomethingThatIsNoSocketIsRefused) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  ::close(pipe_fds[1]);
  auto wrong = socket<stream>::adopt(unique_fd(pipe_fds[0]));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_socket_kind);
  EXPECT_EQ(wrong.error(), std::errc::not_a_socket);
  EXPECT_FALSE(is_open(pipe_fds[0]));
}

// A refused descriptor stays with the caller, who may try another type (issue 12, point 10).
TEST(Adopt, ARefusedDescriptorIsHandedBackSoAnotherTypeCanBeTried) {
  auto pair = socket_pair<seqpacket>::create().value();
  unique_fd fd(pair.first.release());
  const int raw = fd.get();
  auto wrong = socket<stream>::adopt(std::move(fd));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_socket_kind);
  // NOLINTNEXTLINE(bugprone-use-after-move): adopt hands a refused descriptor back
  ASSERT_TRUE(fd) << "adopt kept (and closed) a descriptor it refused";
  EXPECT_EQ(fd.get(), raw);
  EXPECT_TRUE(is_open(raw));
  auto right = socket<seqpacket>::adopt(std::move(fd));
  ASSERT_TRUE(right) << right.error().message();
  EXPECT_EQ(right.value().native_handle(), raw);
  EXPECT_FALSE(fd);  // NOLINT(bugprone-use-after-move): taken on success
}

// A listening or unconnected AF_UNIX socket has the right type and domain, but is no end of a
// pair: sends on it fail with ENOTCONN.
TEST(Adopt, AListeningSocketIsRefused) {
  unique_fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Linux's autobind: an abstract address of its own choosing.
  ASSERT_EQ(
      ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(sa_family_t)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  auto adopted = socket<stream>::adopt(std::move(listener));
  ASSERT_FALSE(adopted) << "a listening socket was adopted as a connected end";
  EXPECT_EQ(adopted.error(), errc::wrong_socket_kind);
  EXPECT_TRUE(listener);  // NOLINT(bugprone-use-after-move): handed back
}

TEST(Adopt, AnUnconnectedSocketIsRefused) {
  for (const int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
    unique_fd lone(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(lone);
    const auto outcome = [](const auto& adopted) -> result<void> {
      if (adopted) {
        return success();
      }
      return adopted.error();
    };
    result<void> tried = success();
    if (type == SOCK_STREAM) {
      tried = outcome(socket<stream>::adopt(std::move(lone)));
    } else if (type == SOCK_SEQPACKET) {
      tried = outcome(socket<seqpacket>::adopt(std::move(lone)));
    } else {
      tried = outcome(socket<dgram>::adopt(std::move(lone)));
    }
    ASSERT_FALSE(tried) << type << ": an unconnected socket was adopted";
    EXPECT_EQ(tried.error(), std::errc::not_connected) << type;
    EXPECT_TRUE(lone) << type;  // NOLINT(bugprone-use-after-move): handed back
  }
}

TEST(Adopt, AnEmptyOrClosedDescriptorIsEbadf) {
  auto empty = socket<dgram>::adopt(unique_fd());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), std::errc::bad_file_descriptor);
}

// ---- try_clone, take_error -------------------------------------------------------------------

TEST(TryClone, TheCloneIsTheSameEndUnderAnotherDescriptor) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& [a, b] = pair.value();
  auto clone = a.try_clone();
  ASSERT_TRUE(clone) << clone.error().message();
  ASSERT_TRUE(clone.value());
  EXPECT_NE(clone.value().native_handle(), a.native_handle());
  EXPECT_TRUE(has_cloexec(clone.value().native_handle()));
  // Sent through the clone, received through the original's peer; and the other way.
  ASSERT_TRUE(clone.value().send(std::string_view("via clone")));
  std::array<char, 16> buffer{};
  auto got = b.receive(buffer);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(buffer.data(), got.value()), "via clone");
  ASSERT_TRUE(b.send(std::string_view("back")));
  got = clone.value().receive(buffer);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(buffer.data(), got.value()), "back");
  // One open file description: O_NONBLOCK set through one is seen through the other.
  ASSERT_TRUE(a.set_nonblocking(true));
  EXPECT_TRUE(is_nonblocking(clone.value().native_handle()));
  // The peer sees the end closed only when the last descriptor for it goes.
  ASSERT_TRUE(a.close());
  ASSERT_TRUE(b.send(std::string_view("still")));
  got = clone.value().receive(buffer);
  ASSERT_TRUE(got);
  ASSERT_TRUE(clone.value().close());
  auto end = b.send(std::string_view("gone"));
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), std::errc::broken_pipe);
}

TEST(TryClone, AnEmptySocketIsEbadf) {
  socket<stream> empty;
  auto clone = empty.try_clone();
  ASSERT_FALSE(clone);
  EXPECT_EQ(clone.error(), std::errc::bad_file_descriptor);
}

TEST(TakeError, ReportsAPendingErrorOnceThenNone) {
  // A peer that closes with bytes unread resets the connection: ECONNRESET waits in SO_ERROR.
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& [a, b] = pair.value();
  auto none = a.take_error();
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(none.value()) << none.value()->message();
  ASSERT_TRUE(a.send(std::string_view("unread")));
  ASSERT_TRUE(b.close());
  auto pending = a.take_error();
  ASSERT_TRUE(pending) << pending.error().message();
  ASSERT_TRUE(pending.value());
  EXPECT_EQ(*pending.value(), std::errc::connection_reset);
  EXPECT_EQ(pending.value()->category(), std::system_category());
  auto taken = a.take_error();
  ASSERT_TRUE(taken);
  EXPECT_FALSE(taken.value()) << "SO_ERROR clears as it is read";
}

TEST(TakeError, AnEmptySocketIsEbadf) {
  socket<seqpacket> empty;
  auto error = empty.take_error();
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error(), std::errc::bad_file_descriptor);
}

}  // namespace
}  // namespace sockpair::testing
