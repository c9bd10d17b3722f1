// Out-of-band data on an AF_UNIX stream (<socketpair/out_of_band.hpp>), one test per rule of
// the kernel's selftest (tools/testing/selftests/net/af_unix/msg_oob.c) that the library
// documents. Linux >= 5.15; before that each call's clear error is pinned instead.
#include <socketpair/out_of_band.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tests/support/kernel.hpp"

namespace {

using sockpair::at_out_of_band_mark;
using sockpair::receive_out_of_band;
using sockpair::send_out_of_band;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;

// Only AF_UNIX streams carry an urgent byte: the calls take nothing else.
template <class Socket>
concept takes_out_of_band = requires(Socket& s) {
  sockpair::receive_out_of_band(s);
};
static_assert(takes_out_of_band<socket<stream>>);
static_assert(!takes_out_of_band<socket<sockpair::seqpacket>>);
static_assert(!takes_out_of_band<socket<sockpair::dgram>>);

class OutOfBand : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = socket_pair<stream>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
    ASSERT_TRUE(b.set_nonblocking(true));  // a receive that would wait fails instead
    if (!sockpair::testing::kernel_at_least(5, 15)) {
      auto sent = send_out_of_band(a, std::byte{'x'});
      ASSERT_FALSE(sent);
      EXPECT_EQ(sent.error(), sockpair::errc::not_supported_by_kernel);
      GTEST_SKIP() << "MSG_OOB on AF_UNIX streams needs Linux >= 5.15 (its error is checked)";
    }
  }

  // What one ordinary receive returns now, as text ("" when it would wait).
  std::string receive_text() {
    std::array<char, 16> buffer{};
    auto got = b.receive(buffer);
    if (!got) {
      EXPECT_EQ(got.error(), std::errc::operation_would_block) << got.error().message();
      return "";
    }
    return {buffer.data(), got.value()};
  }

  socket<stream> a;
  socket<stream> b;
};

TEST_F(OutOfBand, TheUrgentByteIsTakenApartAndOrdinaryBytesStayInOrder) {
  ASSERT_TRUE(a.send(std::string_view("hell")));
  ASSERT_TRUE(send_out_of_band(a, std::byte{'o'}));
  ASSERT_TRUE(a.send(std::string_view("!")));
  auto urgent = receive_out_of_band(b);
  ASSERT_TRUE(urgent) << urgent.error().message();
  EXPECT_EQ(urgent.value(), std::byte{'o'});
  EXPECT_EQ(receive_text(), "hell");
  EXPECT_EQ(receive_text(), "!");
}

TEST_F(OutOfBand, AnOrdinaryReceiveStopsAtTheMarkAndNeverReturnsTheUrgentByte) {
  ASSERT_TRUE(a.send(std::string_view("hell")));
  ASSERT_TRUE(send_out_of_band(a, std::byte{'o'}));
  ASSERT_TRUE(a.send(std::string_view("world")));
  EXPECT_EQ(receive_text(), "hell");
  auto mark = at_out_of_band_mark(b);
  ASSERT_TRUE(mark) << mark.error().message();
  EXPECT_TRUE(mark.value());
  EXPECT_EQ(receive_text(), "world") << "the urgent byte is skipped, not read in place";
}

TEST_F(OutOfBand, AtTheMarkOnlyOnceEveryByteBeforeItWasRead) {
  auto none = at_out_of_band_mark(b);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(none.value());
  ASSERT_TRUE(a.send(std::string_view("ab")));
  ASSERT_TRUE(send_out_of_band(a, std::byte{'c'}));
  auto before = at_out_of_band_mark(b);
  ASSERT_TRUE(before);
  EXPECT_FALSE(before.value());
  EXPECT_EQ(receive_text(), "ab");
  auto after = at_out_of_band_mark(b);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after.value());
}

TEST_F(OutOfBand, WithNoUrgentByteReceiveOutOfBandIsEinvalAndDoesNotWait) {
  auto none = receive_out_of_band(b);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), std::errc::invalid_argument);
  ASSERT_TRUE(b.set_nonblocking(false));  // still no wait: the answer is immediate
  ASSERT_TRUE(a.send(std::string_view("plain")));
  none = receive_out_of_band(b);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), std::errc::invalid_argument);
}

TEST_F(OutOfBand, TheUrgentByteIsTakenOnce) {
  ASSERT_TRUE(send_out_of_band(a, std::byte{'u'}));
  ASSERT_TRUE(receive_out_of_band(b));
  auto again = receive_out_of_band(b);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::invalid_argument);
}

TEST_F(OutOfBand, AnOrdinaryReceiveAtTheMarkDropsTheUrgentByteNotYetTaken) {
  // The selftest's oob_drop: only the urgent byte queued, an ordinary receive finds nothing
  // to return (EAGAIN, never a 0 that reads as EOF) and the urgent byte is gone.
  ASSERT_TRUE(send_out_of_band(a, std::byte{'x'}));
  EXPECT_EQ(receive_text(), "");
  auto urgent = receive_out_of_band(b);
  ASSERT_FALSE(urgent) << "taken by the ordinary receive";
  EXPECT_EQ(urgent.error(), std::errc::invalid_argument);
  auto mark = at_out_of_band_mark(b);
  ASSERT_TRUE(mark);
  EXPECT_FALSE(mark.value());
}

TEST_F(OutOfBand, InlineTheUrgentByteIsReadInItsPlace) {
  ASSERT_TRUE(sockpair::set_out_of_band_inline(b, true));
  auto inline_on = sockpair::out_of_band_inline(b);
  ASSERT_TRUE(inline_on);
  EXPECT_TRUE(inline_on.value());
  ASSERT_TRUE(a.send(std::string_view("hell")));
  ASSERT_TRUE(send_out_of_band(a, std::byte{'o'}));
  auto urgent = receive_out_of_band(b);
  ASSERT_FALSE(urgent);
  EXPECT_EQ(urgent.error(), std::errc::invalid_argument);
  std::string text = receive_text();
  text += receive_text();  // (a receive may stop at the mark)
  EXPECT_EQ(text, "hello");
  ASSERT_TRUE(sockpair::set_out_of_band_inline(b, false));
  inline_on = sockpair::out_of_band_inline(b);
  ASSERT_TRUE(inline_on);
  EXPECT_FALSE(inline_on.value());
}

TEST_F(OutOfBand, SendingToAClosedPeerIsEpipeWithoutSigpipe) {
  ASSERT_TRUE(b.close());
  auto sent = send_out_of_band(a, std::byte{'p'});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

}  // namespace
