// detail/sigpipe.hpp: how the library keeps SIGPIPE from being raised. Where MSG_NOSIGNAL
// exists (Linux, the BSDs, macOS 11+ with __DARWIN_C_LEVEL >= 200809L) every send passes it and
// `suppress_sigpipe` does nothing; elsewhere (macOS 10.15 and earlier) it sets SO_NOSIGPIPE on
// every socket the library makes or adopts. That branch cannot run here: what can be pinned is
// that the Linux build takes the flag branch, that `suppress_sigpipe` succeeds on every socket
// the library makes, and that the option-setting mechanism the other branch uses
// (`set_flag_option`) sets an int option to 1 and reports errno as the library does. The
// behaviour itself (EPIPE, no signal) is tests/io/signals_test.cpp's `Sigpipe.*`.
#include <socketpair/detail/sigpipe.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace sockpair::detail {
namespace {

int int_option(int fd, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, name, &value, &length), 0);
  return value;
}

#if defined(__linux__)
TEST(Sigpipe, LinuxUsesTheSendFlagAndNeedsNoSocketOption) {
  static_assert(no_sigpipe == MSG_NOSIGNAL);
  static_assert(!sigpipe_needs_socket_option);
  auto [a, b] = socket_pair<stream>::create().value();
  EXPECT_TRUE(suppress_sigpipe(a.native_handle()));
  EXPECT_TRUE(suppress_sigpipe(b.native_handle()));
}
#endif

TEST(Sigpipe, SuppressingSucceedsOnEverySocketTheLibraryMakes) {
  auto stream_pair = socket_pair<stream>::create().value();
  auto seqpacket_pair = socket_pair<seqpacket>::create().value();
  auto dgram_pair = socket_pair<dgram>::create({.nonblocking = true}).value();
  for (const int fd : {stream_pair.first.native_handle(), stream_pair.second.native_handle(),
                       seqpacket_pair.first.native_handle(), dgram_pair.second.native_handle()}) {
    auto done = suppress_sigpipe(fd);
    EXPECT_TRUE(done) << done.error().message();
  }
}

TEST(Sigpipe, TheOptionMechanismSetsTheOptionAndReportsErrno) {
  // SO_KEEPALIVE stands in for SO_NOSIGPIPE: an int flag at SOL_SOCKET that Linux has.
  auto [a, b] = socket_pair<stream>::create().value();
  ASSERT_EQ(int_option(a.native_handle(), SO_KEEPALIVE), 0);
  ASSERT_TRUE(set_flag_option(a.native_handle(), SOL_SOCKET, SO_KEEPALIVE));
  EXPECT_NE(int_option(a.native_handle(), SO_KEEPALIVE), 0);
  EXPECT_EQ(int_option(b.native_handle(), SO_KEEPALIVE), 0) << "only the end it was given";
  auto bad = set_flag_option(-1, SOL_SOCKET, SO_KEEPALIVE);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), std::error_code(EBADF, std::system_category()));
  auto unknown = set_flag_option(a.native_handle(), SOL_SOCKET, 0x7fff);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), std::error_code(ENOPROTOOPT, std::system_category()));
}

}  // namespace
}  // namespace sockpair::detail
