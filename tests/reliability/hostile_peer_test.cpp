// A hostile peer: the other end is driven with raw system calls and does what a well-behaved
// sender never would: messages far larger than the receiver's buffer, more descriptors than the
// receiver made room for (up to SCM_MAX_FD, spread over several control messages),
// credentials nobody asked for, descriptors sent to a receiver that takes none, a frame length
// of 4 GiB, and closing in the middle of a message or a frame. The receiver must get a clear
// error each time and keep no descriptor it did not ask for: every test compares the
// process's descriptor set before and after (and the fd-check main does it again).
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
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tests/support/fds.hpp"

namespace {

using sockpair::errc;
using sockpair::seqpacket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::testing::open_fds;

// What the hostile peer attaches to one sendmsg(2).
struct raw_message {
  std::vector<std::byte> data;
  // Each inner vector becomes its own SCM_RIGHTS control message.
  std::vector<std::vector<int>> rights;
  std::optional<ucred> credentials;
};

// One sendmsg(2) exactly as the peer asks, with no library involved. Returns sendmsg's
// result, errno in `err`.
ssize_t raw_send(int sock, const raw_message& m, int& err) {
  std::size_t space = 0;
  for (const auto& fds : m.rights) {
    space += CMSG_SPACE(fds.size() * sizeof(int));
  }
  if (m.credentials) {
    space += CMSG_SPACE(sizeof(ucred));
  }
  std::vector<std::byte> control(space);
  iovec iov{const_cast<std::byte*>(m.data.data()), m.data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (space > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = space;
  }
  cmsghdr* header = space > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  for (const auto& fds : m.rights) {
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(header), fds.data(), fds.size() * sizeof(int));
    header = CMSG_NXTHDR(&msg, header);
  }
  if (m.credentials) {
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_CREDENTIALS;
    header->cmsg_len = CMSG_LEN(sizeof(ucred));
    std::memcpy(CMSG_DATA(header), &*m.credentials, sizeof(ucred));
  }
  const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  err = errno;
  return n;
}

std::vector<std::byte> text(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

std::string as_text(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A pipe whose write end the peer floods copies of; once every copy is closed the read end
// sees EOF, which proves no copy survived anywhere (in flight or in the receiver).
class flood_source {
 public:
  flood_source() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_.reset(fds[0]);
    write_.reset(fds[1]);
  }
  [[nodiscard]] int fd() const { return write_.get(); }
  [[nodiscard]] std::vector<int> copies(std::size_t n) const { return std::vector<int>(n, fd()); }
  // Closes the peer's own copy and says whether any other copy still exists anywhere.
  [[nodiscard]] bool some_copy_survives() {
    write_.reset();
    const int flags = ::fcntl(read_.get(), F_GETFL);
    ::fcntl(read_.get(), F_SETFL, flags | O_NONBLOCK);
    char byte;
    const ssize_t n = ::read(read_.get(), &byte, 1);
    return !(n == 0);  // 0: EOF, no writer left; -1 EAGAIN: a writer is still open
  }

 private:
  unique_fd read_;
  unique_fd write_;
};

// ---- Oversize messages -------------------------------------------------------------------------

TEST(HostilePeer, OversizeMessageIsTruncatedErrorAndTheNextMessageIsIntact) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  const int big = 4 << 20;
  ASSERT_EQ(::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
  std::vector<std::byte> huge(1 << 20, std::byte{0xAB});
  int err = 0;
  ASSERT_EQ(raw_send(peer, {huge, {}, {}}, err), static_cast<ssize_t>(huge.size())) << err;
  ASSERT_EQ(raw_send(peer, {text("next"), {}, {}}, err), 4);

  std::array<std::byte, 4096> buffer{};
  auto r = receiver.receive(buffer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::message_truncated);
  EXPECT_EQ(r.error(), std::errc::message_size) << "also reads as EMSGSIZE";
  EXPECT_EQ(buffer[0], std::byte{0xAB}) << "the head was stored";
  auto next = receiver.receive(buffer);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(as_text(std::span(buffer).first(next.value())), "next");
}

TEST(HostilePeer, OversizeMessageReportsItsRealSizeToReceiveMessage) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  const int big = 4 << 20;
  ASSERT_EQ(::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
  std::vector<std::byte> huge(3 << 20);
  int err = 0;
  ASSERT_EQ(raw_send(peer, {huge, {}, {}}, err), static_cast<ssize_t>(huge.size())) << err;
  std::array<std::byte, 16> buffer{};
  auto r = receiver.receive_message(buffer);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r.value().truncated());
  EXPECT_EQ(r.value().stored, buffer.size());
  EXPECT_EQ(r.value().size, huge.size());
}

TEST(HostilePeer, OversizeMessageWithDescriptorsClosesThemAndReportsTruncation) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  flood_source source;
  int err = 0;
  ASSERT_GT(raw_send(peer, {std::vector<std::byte>(1000), {source.copies(3)}, {}}, err), 0);
  const std::set<int> before = open_fds();
  std::array<std::byte, 10> buffer{};
  auto r = sockpair::receive_with_fds<4>(receiver, buffer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::message_truncated);
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
}

TEST(HostilePeer, OversizeMessagesInABatchAreFlaggedAndTheRestArrive) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  int err = 0;
  ASSERT_EQ(raw_send(peer, {text("small"), {}, {}}, err), 5);
  ASSERT_EQ(raw_send(peer, {std::vector<std::byte>(5000), {}, {}}, err), 5000);
  ASSERT_EQ(raw_send(peer, {text("after"), {}, {}}, err), 5);
  std::array<std::array<std::byte, 64>, 3> storage{};
  const std::array<std::span<std::byte>, 3> buffers = {storage[0], storage[1], storage[2]};
  std::array<sockpair::message_info, 3> results{};
  auto got = sockpair::receive_batch(receiver, buffers, results);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value(), 3U);
  EXPECT_FALSE(results[0].truncated());
  EXPECT_TRUE(results[1].truncated());
  EXPECT_EQ(results[1].size, 5000U);
  EXPECT_EQ(results[1].stored, 64U);
  EXPECT_FALSE(results[2].truncated());
  EXPECT_EQ(as_text(std::span(storage[2]).first(results[2].stored)), "after");
}

// ---- Descriptor floods -------------------------------------------------------------------------

TEST(HostilePeer, FloodOfTheMostDescriptorsOneMessageCarriesIsRefusedAndClosed) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  flood_source source;
  int err = 0;
  ASSERT_EQ(raw_send(peer, {text("x"), {source.copies(sockpair::max_fds_per_message)}, {}}, err), 1)
      << std::system_category().message(err);
  ASSERT_EQ(raw_send(peer, {text("y"), {}, {}}, err), 1);
  const std::set<int> before = open_fds();
  std::array<std::byte, 8> buffer{};
  auto r = sockpair::receive_with_fds<1>(receiver, buffer);  // asked for one
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::control_truncated) << r.error().message();
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
  // The stream of messages goes on.
  auto next = receiver.receive(buffer);
  ASSERT_TRUE(next);
  EXPECT_EQ(as_text(std::span(buffer).first(next.value())), "y");
}

TEST(HostilePeer, FloodSpreadOverSeveralControlMessagesIsCountedAsOne) {
  // The kernel merges several SCM_RIGHTS messages of one sendmsg(2) into one list.
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  flood_source source;
  int err = 0;
  ASSERT_EQ(
      raw_send(peer, {text("x"), {source.copies(2), source.copies(2), source.copies(2)}, {}}, err),
      1)
      << std::system_category().message(err);
  const std::set<int> before = open_fds();
  std::array<std::byte, 8> buffer{};
  std::array<unique_fd, 4> storage;
  auto r = sockpair::receive_with_fds(receiver, buffer, std::span<unique_fd>(storage));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::control_truncated);
  EXPECT_EQ(open_fds(), before);
  for (const unique_fd& slot : storage) {
    EXPECT_FALSE(slot) << "no slot keeps a descriptor after a failure";
  }
  EXPECT_FALSE(source.some_copy_survives());
}

TEST(HostilePeer, MoreThanScmMaxFdIsRefusedByTheKernelAtTheSender) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  const int peer = pair.value().second.native_handle();
  flood_source source;
  int err = 0;
  EXPECT_EQ(
      raw_send(peer, {text("x"), {source.copies(sockpair::max_fds_per_message + 1)}, {}}, err), -1);
  EXPECT_EQ(err, EINVAL);
}

TEST(HostilePeer, DescriptorsSentToAPlainReceiveAreClosedAndReported) {
  // A receiver that takes no descriptors keeps none, and is told that some came: silently
  // dropping them (recv(2) cannot report MSG_CTRUNC) was issue 12's point 2.
  for (bool stream_type : {false, true}) {
    flood_source source;
    const std::set<int> before = open_fds();
    int err = 0;
    std::array<std::byte, 8> buffer{};
    if (stream_type) {
      auto pair = socket_pair<stream>::create();
      ASSERT_TRUE(pair);
      ASSERT_EQ(
          raw_send(pair.value().second.native_handle(), {text("abc"), {source.copies(5)}, {}}, err),
          3);
      auto r = pair.value().first.receive(buffer);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), sockpair::errc::descriptors_discarded);
    } else {
      auto pair = socket_pair<seqpacket>::create();
      ASSERT_TRUE(pair);
      ASSERT_EQ(
          raw_send(pair.value().second.native_handle(), {text("abc"), {source.copies(5)}, {}}, err),
          3);
      auto r = pair.value().first.receive_message(buffer);
      ASSERT_TRUE(r);
      EXPECT_EQ(r.value().size, 3U);
      EXPECT_TRUE(r.value().descriptors_discarded);
    }
    EXPECT_EQ(open_fds(), before);
    EXPECT_FALSE(source.some_copy_survives());
  }
}

TEST(HostilePeer, DescriptorsRidingAlongFramesBreakTheFrameReaderAndAreClosed) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  flood_source source;
  std::vector<std::byte> frame = {std::byte{3},   std::byte{0},   std::byte{0},  std::byte{0},
                                  std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  int err = 0;
  const std::set<int> before = open_fds();
  ASSERT_EQ(raw_send(peer, {frame, {source.copies(10)}, {}}, err), 7);
  ::shutdown(peer, SHUT_WR);
  sockpair::frame_reader reader(receiver);
  auto first = reader.read();
  ASSERT_FALSE(first) << "the descriptors were dropped unreported";
  EXPECT_EQ(first.error(), sockpair::errc::descriptors_discarded);
  auto again = reader.read();  // the stream's byte count is lost: it stays broken
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), sockpair::errc::descriptors_discarded);
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
}

TEST(HostilePeer, PidfdsTheReceiverEnabledAreClosedNotReturned) {
  // SO_PASSPIDFD (Linux >= 6.5) makes the kernel install a pidfd of the sender with every
  // message. The library returns only SCM_RIGHTS descriptors and closes the pidfd.
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  constexpr int so_passpidfd = 76;  // <asm-generic/socket.h>; older libc headers lack it
  const int on = 1;
  if (::setsockopt(receiver.native_handle(), SOL_SOCKET, so_passpidfd, &on, sizeof on) != 0) {
    GTEST_SKIP() << "SO_PASSPIDFD not supported by this kernel";
  }
  flood_source source;
  int err = 0;
  ASSERT_EQ(raw_send(peer, {text("x"), {source.copies(1)}, {}}, err), 1);
  ASSERT_EQ(raw_send(peer, {text("y"), {source.copies(2)}, {}}, err), 1);
  const std::set<int> before = open_fds();
  std::array<std::byte, 8> buffer{};
  {
    auto r = sockpair::receive_with_fds<1>(receiver, buffer);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().fds.size(), 1U) << "the passed descriptor, not the pidfd";
  }
  {
    auto r = sockpair::receive_with_fds<1>(receiver, buffer);
    ASSERT_FALSE(r) << "two descriptors for room for one";
    EXPECT_EQ(r.error(), errc::control_truncated);
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
}

// ---- Credentials nobody asked for --------------------------------------------------------------

TEST(HostilePeer, UnsolicitedCredentialsAreNotDeliveredWithoutPasscred) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  flood_source source;
  int err = 0;
  const ucred mine{::getpid(), ::getuid(), ::getgid()};
  ASSERT_EQ(raw_send(peer, {text("x"), {source.copies(1)}, mine}, err), 1)
      << std::system_category().message(err);
  const std::set<int> before = open_fds();
  std::array<std::byte, 8> buffer{};
  {
    auto r = sockpair::receive_with_fds<1>(receiver, buffer);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r.value().credentials.has_value());
    EXPECT_EQ(r.value().fds.size(), 1U);
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
}

TEST(HostilePeer, CredentialsAndAFullLoadOfDescriptorsBothFitTheControlBuffer) {
  // With SO_PASSCRED on, the kernel adds SCM_CREDENTIALS ahead of the descriptors; the
  // receiver's control buffer must hold both, so the descriptors are not cut.
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  ASSERT_TRUE(sockpair::set_receive_credentials(receiver, true));
  flood_source source;
  int err = 0;
  const ucred mine{::getpid(), ::getuid(), ::getgid()};
  ASSERT_EQ(raw_send(peer, {text("x"), {source.copies(4)}, mine}, err), 1);
  ASSERT_EQ(raw_send(peer, {text("y"), {source.copies(4)}, {}}, err), 1);
  const std::set<int> before = open_fds();
  std::array<std::byte, 8> buffer{};
  for (int i = 0; i < 2; ++i) {
    auto r = sockpair::receive_with_fds<4>(receiver, buffer);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value().fds.size(), 4U);
    ASSERT_TRUE(r.value().credentials.has_value());
    EXPECT_EQ(r.value().credentials->pid, ::getpid());
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_FALSE(source.some_copy_survives());
}

// ---- Closing mid-message -----------------------------------------------------------------------

TEST(HostilePeer, StreamClosedMidMessageGivesUnexpectedEofWithTheCount) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  int err = 0;
  ASSERT_EQ(raw_send(peer, {text("half a mess"), {}, {}}, err), 11);
  static_cast<void>(pair.value().second.close());
  std::array<std::byte, 32> buffer{};
  sockpair::incoming in(buffer);
  auto r = receiver.receive_exact(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unexpected_eof);
  EXPECT_EQ(in.done(), 11U);
  EXPECT_EQ(as_text(std::span(buffer).first(in.done())), "half a mess");
}

TEST(HostilePeer, FrameCutInsideItsLengthPrefixIsUnexpectedEof) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  int err = 0;
  ASSERT_EQ(
      raw_send(pair.value().second.native_handle(), {{std::byte{5}, std::byte{0}}, {}, {}}, err),
      2);
  static_cast<void>(pair.value().second.close());
  sockpair::frame_reader reader(receiver);
  auto r = reader.read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unexpected_eof);
  auto again = reader.read();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::unexpected_eof) << "and stays so";
}

TEST(HostilePeer, FrameCutInsideItsPayloadIsUnexpectedEofAfterTheWholeFrames) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  std::vector<std::byte> wire = {std::byte{2}, std::byte{0}, std::byte{0}, std::byte{0},
                                 std::byte{'o'}, std::byte{'k'},
                                 // a frame of 1000 bytes of which 3 arrive
                                 std::byte{0xE8}, std::byte{0x03}, std::byte{0}, std::byte{0},
                                 std::byte{1}, std::byte{2}, std::byte{3}};
  int err = 0;
  ASSERT_EQ(raw_send(pair.value().second.native_handle(), {wire, {}, {}}, err),
            static_cast<ssize_t>(wire.size()));
  static_cast<void>(pair.value().second.close());
  sockpair::frame_reader reader(receiver);
  auto first = reader.read();
  ASSERT_TRUE(first);
  ASSERT_TRUE(first.value());
  EXPECT_EQ(as_text(*first.value()), "ok");
  auto cut = reader.read();
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error(), errc::unexpected_eof);
}

TEST(HostilePeer, FourGibibyteLengthPrefixIsRefusedAtOnce) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  std::vector<std::byte> wire = {std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF},
                                 std::byte{'x'}};
  int err = 0;
  ASSERT_EQ(raw_send(pair.value().second.native_handle(), {wire, {}, {}}, err), 5);
  sockpair::frame_reader reader(receiver, {.max_frame_size = 1 << 20, .read_size = 64});
  auto r = reader.read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::frame_too_large);
  EXPECT_EQ(r.error(), std::errc::message_size);
  EXPECT_EQ(reader.buffered_bytes(), 5U) << "only what arrived is held, nothing more";
  auto again = reader.read();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::frame_too_large) << "the stream cannot be resynchronised";
}

TEST(HostilePeer, LengthPrefixOneOverTheLimitIsRefused) {
  auto pair = socket_pair<stream>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const std::uint32_t limit = 4096;
  const std::uint32_t claimed = limit + 1;
  std::vector<std::byte> wire(4);
  std::memcpy(wire.data(), &claimed, 4);  // little-endian host: the wire order
  int err = 0;
  ASSERT_EQ(raw_send(pair.value().second.native_handle(), {wire, {}, {}}, err), 4);
  sockpair::frame_reader reader(receiver, {.max_frame_size = limit});
  auto r = reader.read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::frame_too_large);
}

TEST(HostilePeer, SeqpacketClosedAfterEmptyMessagesTellsThemFromTheEnd) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto& receiver = pair.value().first;
  const int peer = pair.value().second.native_handle();
  int err = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(raw_send(peer, {{}, {}, {}}, err), 0);
  }
  static_cast<void>(pair.value().second.close());
  std::array<std::byte, 8> buffer{};
  int empties = 0;
  for (;;) {
    auto r = receiver.receive_message(buffer);
    ASSERT_TRUE(r) << r.error().message();
    if (r.value().end_of_stream) {
      break;
    }
    EXPECT_EQ(r.value().size, 0U);
    ++empties;
    ASSERT_LE(empties, 100);
  }
  EXPECT_EQ(empties, 100);
}

}  // namespace
