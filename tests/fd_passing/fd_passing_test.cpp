// Descriptor passing (SCM_RIGHTS) over real socket pairs: ownership, limits, truncation,
// close-on-exec, stream rules, and the kernel's in-flight garbage collection.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::dgram;
using sockpair::errc;
using sockpair::fd_receive_options;
using sockpair::inplace_fd_vector;
using sockpair::max_fds_per_message;
using sockpair::receive_with_fds;
using sockpair::send_with_fds;
using sockpair::seqpacket;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::unique_fd;
using sockpair::testing::bytes_of;
using sockpair::testing::exit_status_of;
using sockpair::testing::has_cloexec;
using sockpair::testing::is_open;
using sockpair::testing::make_pipe;
using sockpair::testing::nothing_to_read;
using sockpair::testing::open_fds;
using sockpair::testing::pending_bytes;
using sockpair::testing::raw_send_rights;
using sockpair::testing::read_to_eof;
using sockpair::testing::same_file;
using sockpair::testing::text_of;
using sockpair::testing::write_all;

static_assert(max_fds_per_message == 253);
static_assert(!std::is_copy_constructible_v<inplace_fd_vector<4>>);
static_assert(std::is_nothrow_move_constructible_v<inplace_fd_vector<4>>);

// Linux (6.18 here) runs its unix garbage collector when a process next sends descriptors
// while a cycle may exist, not when the last reference from outside a cycle is closed: a test
// alone on the machine would wait forever, and one among others would pass only thanks to
// them. This sends one (`fd`, over a throwaway pair that then closes: no new cycle).
void kick_unix_garbage_collector(int fd) {
  auto pair = socket_pair<dgram>::create();
  ASSERT_TRUE(pair);
  ASSERT_TRUE(send_with_fds(pair.value().first, bytes_of("k"), {fd}));
}

// Waits for EOF on a pipe's read end, kicking the collector every 50 ms; false if it has not
// come after a very long time (a guard against hanging forever, not a measurement).
bool eventually_eof(int read_end) {
  for (int kicks = 0; kicks < 1200; ++kicks) {
    kick_unix_garbage_collector(read_end);
    pollfd p{read_end, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      return read_to_eof(read_end).empty();
    }
  }
  return false;
}

template <class Type>
class FdPassing : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
  }

  socket<Type> a;
  socket<Type> b;
};

using AllTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(FdPassing, AllTypes);

template <class Type>
class MessageFdPassing : public FdPassing<Type> {};
using MessageTypes = ::testing::Types<dgram, seqpacket>;
TYPED_TEST_SUITE(MessageFdPassing, MessageTypes);

using StreamFdPassing = FdPassing<stream>;

// ---- Passing and owning -------------------------------------------------------------------

TYPED_TEST(FdPassing, ForkedChildWritesThroughAPipeEndItReceived) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The pipe does not exist yet: the child can only get it through the socket.
    static_cast<void>(this->a.close());
    std::array<std::byte, 16> buffer{};
    auto got = receive_with_fds<1>(this->b, buffer);
    if (!got || got.value().fds.size() != 1) {
      ::_exit(10);
    }
    const std::string text = "written by child " + std::to_string(::getpid());
    ::_exit(write_all(got.value().fds[0].get(), text) ? 0 : 11);
  }
  static_cast<void>(this->b.close());
  auto pipe = make_pipe();
  auto sent = send_with_fds(this->a, bytes_of("w"), {pipe.write.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), 1U);
  pipe.write.reset();  // from here the child holds the only write end
  EXPECT_EQ(read_to_eof(pipe.read.get()), "written by child " + std::to_string(child));
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(FdPassing, ReceiverGetsNewDescriptorsForTheSameFilesAndSenderKeepsItsOwn) {
  auto first = make_pipe();
  auto second = make_pipe();
  auto sent = send_with_fds(this->a, bytes_of("two"), {first.read.get(), second.write.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_TRUE(is_open(first.read.get()));
  EXPECT_TRUE(is_open(second.write.get()));

  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds<4>(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(text_of(buffer, got.value().size), "two");
  auto& fds = got.value().fds;
  ASSERT_EQ(fds.size(), 2U);
  EXPECT_NE(fds[0].get(), first.read.get());
  EXPECT_TRUE(same_file(fds[0].get(), first.read.get()));
  EXPECT_TRUE(same_file(fds[1].get(), second.write.get()));
  ASSERT_TRUE(write_all(fds[1].get(), "through the received end"));
  fds[1].reset();
  second.write.reset();
  EXPECT_EQ(read_to_eof(second.read.get()), "through the received end");
}

TYPED_TEST(FdPassing, MessageWithoutDescriptorsArrivesWithNone) {
  ASSERT_TRUE(this->a.send(bytes_of("plain")));
  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(text_of(buffer, got.value().size), "plain");
  EXPECT_TRUE(got.value().fds.empty());
  EXPECT_FALSE(got.value().credentials);
}

TYPED_TEST(FdPassing, SendsDescriptorsHeldByUniqueFdsWhichStayOwnedByTheSender) {
  auto pipe = make_pipe();
  std::vector<unique_fd> mine;
  mine.push_back(std::move(pipe.read));
  mine.push_back(std::move(pipe.write));
  auto sent = send_with_fds(this->a, bytes_of("owned"), mine);
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_TRUE(is_open(mine[0].get()));
  EXPECT_TRUE(is_open(mine[1].get()));

  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 2U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), mine[0].get()));
  EXPECT_TRUE(same_file(got.value().fds[1].get(), mine[1].get()));
}

// A borrowed descriptor (like Rust's BorrowedFd): a view of one an owner keeps, never a number
// that slipped in by accident, never borrowed from a temporary owner.
static_assert(std::is_trivially_copyable_v<sockpair::borrowed_fd>);
static_assert(sizeof(sockpair::borrowed_fd) == sizeof(int));
static_assert(!std::is_convertible_v<int, sockpair::borrowed_fd>, "a raw number: borrow_raw");
static_assert(!std::is_default_constructible_v<sockpair::borrowed_fd>);
static_assert(std::is_convertible_v<const unique_fd&, sockpair::borrowed_fd>);
static_assert(std::is_convertible_v<socket<stream>&, sockpair::borrowed_fd>);
static_assert(!std::is_constructible_v<sockpair::borrowed_fd, unique_fd&&>);
static_assert(!std::is_constructible_v<sockpair::borrowed_fd, socket<stream>&&>);

TYPED_TEST(FdPassing, SendsBorrowedDescriptorsOfEveryOwnerAndTheOwnersKeepThem) {
  auto pipe = make_pipe();
  auto other = socket_pair<seqpacket>::create();
  ASSERT_TRUE(other);
  const auto raw = sockpair::borrowed_fd::borrow_raw(pipe.write.get());
  EXPECT_EQ(raw.get(), pipe.write.get());
  auto sent = send_with_fds(this->a, bytes_of("b"), {pipe.read, other.value().first, raw});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_TRUE(is_open(pipe.read.get()));
  EXPECT_TRUE(is_open(pipe.write.get()));
  EXPECT_TRUE(is_open(other.value().first.native_handle()));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<3>(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 3U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), pipe.read.get()));
  EXPECT_TRUE(same_file(got.value().fds[1].get(), other.value().first.native_handle()));
  EXPECT_TRUE(same_file(got.value().fds[2].get(), pipe.write.get()));

  // A span of them, many (past the few the copy handles one by one).
  const std::vector<sockpair::borrowed_fd> many(9, pipe.read);
  sent = send_with_fds(this->a, bytes_of("m"), std::span<const sockpair::borrowed_fd>(many));
  ASSERT_TRUE(sent) << sent.error().message();
  auto all = receive_with_fds<9>(this->b, buffer);
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all.value().fds.size(), 9U);
  for (const unique_fd& fd : all.value().fds) {
    EXPECT_TRUE(same_file(fd.get(), pipe.read.get()));
  }
}

TYPED_TEST(FdPassing, SendsAndReceivesAnyByteRangeInPlace) {
  // As socket::send/receive: std::string_view out, a std::array<char> in.
  auto pipe = make_pipe();
  const std::string_view text = "config";
  auto sent = send_with_fds(this->a, text, {pipe.read.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), text.size());
  std::array<char, 64> name{};
  auto got = receive_with_fds<1>(this->b, name);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(std::string_view(name.data(), got.value().size), text);
  ASSERT_EQ(got.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), pipe.read.get()));
}

TYPED_TEST(FdPassing, CallerProvidedStorageReceivesWithoutAllocating) {
  auto pipe = make_pipe();
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("s"), {pipe.read.get(), pipe.write.get()}));
  std::array<unique_fd, 3> storage;
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds(this->b, buffer, storage);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 2U);
  EXPECT_EQ(got.value().fds.data(), storage.data());  // a view of the caller's storage
  EXPECT_TRUE(same_file(storage[0].get(), pipe.read.get()));
  EXPECT_TRUE(same_file(storage[1].get(), pipe.write.get()));
  EXPECT_FALSE(storage[2]);
}

TYPED_TEST(FdPassing, SeveralRightsMessagesInOneSendAllArriveInOrder) {
  // A sender this library did not write may split descriptors over several SCM_RIGHTS
  // control messages; every one of them must be received and owned.
  std::vector<sockpair::testing::pipe_ends> pipes;
  pipes.reserve(5);
  for (int i = 0; i < 5; ++i) {
    pipes.push_back(make_pipe());
  }
  const std::vector<std::vector<int>> groups = {
      {pipes[0].read.get(), pipes[1].read.get()},
      {pipes[2].read.get(), pipes[3].read.get(), pipes[4].read.get()}};
  ASSERT_EQ(raw_send_rights(this->a.native_handle(), "g", groups), 1)
      << sockpair::testing::errno_text();
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 5U);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(same_file(got.value().fds[i].get(), pipes[i].read.get())) << i;
  }
}

// ---- The per-message limit ----------------------------------------------------------------

TYPED_TEST(FdPassing, Passes253DescriptorsInOneMessage) {
  auto pipe = make_pipe();
  const std::vector<int> fds(max_fds_per_message, pipe.write.get());
  const auto before = open_fds();
  {
    auto sent = send_with_fds(this->a, bytes_of("many"), fds);
    ASSERT_TRUE(sent) << sent.error().message();
    std::array<std::byte, 8> buffer{};
    auto got = receive_with_fds<max_fds_per_message>(this->b, buffer);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(text_of(buffer, got.value().size), "many");
    ASSERT_EQ(got.value().fds.size(), max_fds_per_message);
    std::set<int> distinct;
    for (const unique_fd& fd : got.value().fds) {
      EXPECT_TRUE(same_file(fd.get(), pipe.write.get()));
      distinct.insert(fd.get());
    }
    EXPECT_EQ(distinct.size(), max_fds_per_message);

    ASSERT_TRUE(send_with_fds(this->a, bytes_of("again"), fds));
    auto into_vector = receive_with_fds(this->b, buffer);
    ASSERT_TRUE(into_vector) << into_vector.error().message();
    EXPECT_EQ(into_vector.value().fds.size(), max_fds_per_message);
  }
  EXPECT_EQ(open_fds(), before);  // every received descriptor closed with its owner
}

TYPED_TEST(FdPassing, Refuses254DescriptorsBeforeAnySystemCall) {
  auto pipe = make_pipe();
  const std::vector<int> fds(max_fds_per_message + 1, pipe.write.get());
  auto sent = send_with_fds(this->a, bytes_of("x"), fds);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), errc::too_many_descriptors);
  EXPECT_EQ(sent.error(), std::errc::argument_list_too_long);
  // Nothing reached the peer...
  EXPECT_EQ(pending_bytes(this->b.native_handle()), 0);
  EXPECT_TRUE(nothing_to_read(this->b.native_handle()));
  // ...because no system call was made: on a socket that owns no descriptor any call
  // would have failed with EBADF.
  socket<TypeParam> empty;
  auto unsent = send_with_fds(empty, bytes_of("x"), fds);
  ASSERT_FALSE(unsent);
  EXPECT_EQ(unsent.error(), errc::too_many_descriptors);
}

TYPED_TEST(FdPassing, TheKernelLimitIs253) {
  // The constant is the kernel's: raw sendmsg takes 253 and refuses 254 with EINVAL.
  auto pipe = make_pipe();
  const std::vector<int> at_limit(max_fds_per_message, pipe.write.get());
  const std::vector<int> past_limit(max_fds_per_message + 1, pipe.write.get());
  EXPECT_EQ(raw_send_rights(this->a.native_handle(), "x", {past_limit}), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(raw_send_rights(this->a.native_handle(), "x", {at_limit}), 1);
}

// ---- Truncation: nothing leaks, nothing is dropped silently --------------------------------

TYPED_TEST(FdPassing, RoomForOneWhenThreeArriveClosesAllThreeAndFailsDistinctly) {
  auto p1 = make_pipe();
  auto p2 = make_pipe();
  auto p3 = make_pipe();
  const std::array<int, 3> three = {p1.read.get(), p2.read.get(), p3.read.get()};
  std::array<std::byte, 8> buffer{};

  const auto before = open_fds();
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("abc"), three));
  auto fixed = receive_with_fds<1>(this->b, buffer);
  ASSERT_FALSE(fixed);
  EXPECT_EQ(fixed.error(), errc::control_truncated);
  EXPECT_NE(fixed.error(), errc::message_truncated);
  EXPECT_EQ(open_fds(), before);

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("abc"), three));
  std::array<unique_fd, 1> storage;
  auto span = receive_with_fds(this->b, buffer, storage);
  ASSERT_FALSE(span);
  EXPECT_EQ(span.error(), errc::control_truncated);
  EXPECT_FALSE(storage[0]);
  EXPECT_EQ(open_fds(), before);

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("abc"), three));
  auto none = receive_with_fds(this->b, buffer, std::span<unique_fd>());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::control_truncated);
  EXPECT_EQ(open_fds(), before);
}

// Lowers the soft RLIMIT_NOFILE for the scope of the object, then restores it.
class descriptor_limit {
 public:
  explicit descriptor_limit(rlim_t soft) : ok_(::getrlimit(RLIMIT_NOFILE, &saved_) == 0) {
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    ok_ = ok_ && ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~descriptor_limit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  descriptor_limit(const descriptor_limit&) = delete;
  descriptor_limit& operator=(const descriptor_limit&) = delete;
  descriptor_limit(descriptor_limit&&) = delete;
  descriptor_limit& operator=(descriptor_limit&&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TYPED_TEST(FdPassing, ReceiverWithRoomForOnlyOneDescriptorNumberKeepsNone) {
  // The kernel installs what RLIMIT_NOFILE allows and sets MSG_CTRUNC: the one it did
  // install must be closed and the call must fail, not return one of three.
  auto p1 = make_pipe();
  auto p2 = make_pipe();
  auto p3 = make_pipe();
  ASSERT_TRUE(
      send_with_fds(this->a, bytes_of("abc"), {p1.read.get(), p2.read.get(), p3.read.get()}));
  const auto before = open_fds();
  // The two lowest free descriptor numbers; a limit of the second leaves one free slot.
  std::vector<int> free_numbers;
  for (int fd = 0; free_numbers.size() < 2; ++fd) {
    if (!before.contains(fd)) {
      free_numbers.push_back(fd);
    }
  }
  std::array<std::byte, 8> buffer{};
  sockpair::result<sockpair::received<std::vector<unique_fd>>> got = errc::unexpected_eof;
  {
    descriptor_limit limit(static_cast<rlim_t>(free_numbers[1]));
    ASSERT_TRUE(limit.ok()) << sockpair::testing::errno_text();
    got = receive_with_fds(this->b, buffer);
  }
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::control_truncated);
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(MessageFdPassing, TruncatedMessageClosesItsDescriptorsAndFails) {
  auto p1 = make_pipe();
  auto p2 = make_pipe();
  const auto before = open_fds();
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("longer than five"), {p1.read.get(), p2.read.get()}));
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("next"), {p1.write.get()}));
  std::array<std::byte, 5> small{};
  auto got = receive_with_fds<2>(this->b, small);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::message_truncated);
  EXPECT_EQ(open_fds(), before);
  // The next message, and its descriptor, are intact.
  auto next = receive_with_fds<2>(this->b, small);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(text_of(small, next.value().size), "next");
  ASSERT_EQ(next.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(next.value().fds[0].get(), p1.write.get()));
}

TYPED_TEST(MessageFdPassing, EmptyMessageCarriesDescriptors) {
  auto pipe = make_pipe();
  auto sent = send_with_fds(this->a, {}, {pipe.write.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(sent.value(), 0U);
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<1>(this->b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().size, 0U);
  ASSERT_EQ(got.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(got.value().fds[0].get(), pipe.write.get()));
}

// ---- Close-on-exec ------------------------------------------------------------------------

TYPED_TEST(FdPassing, ReceivedDescriptorsAreCloseOnExecWhateverTheSendersFlags) {
  auto inheritable = make_pipe(0);  // no FD_CLOEXEC at the sender
  ASSERT_FALSE(has_cloexec(inheritable.write.get()));
  std::array<std::byte, 4> buffer{};

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("c"), {inheritable.write.get()}));
  auto fixed = receive_with_fds<1>(this->b, buffer);
  ASSERT_TRUE(fixed) << fixed.error().message();
  EXPECT_TRUE(has_cloexec(fixed.value().fds[0].get()));

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("c"), {inheritable.write.get()}));
  auto vector = receive_with_fds(this->b, buffer);
  ASSERT_TRUE(vector) << vector.error().message();
  EXPECT_TRUE(has_cloexec(vector.value().fds[0].get()));
}

TYPED_TEST(FdPassing, OptingOutOfCloseOnExecLeavesItClear) {
  auto pipe = make_pipe(O_CLOEXEC);  // FD_CLOEXEC at the sender
  const fd_receive_options inherit{.close_on_exec = false};
  std::array<std::byte, 4> buffer{};

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("c"), {pipe.write.get()}));
  auto fixed = receive_with_fds<1>(this->b, buffer, inherit);
  ASSERT_TRUE(fixed) << fixed.error().message();
  EXPECT_FALSE(has_cloexec(fixed.value().fds[0].get()));

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("c"), {pipe.write.get()}));
  std::array<unique_fd, 1> storage;
  auto span = receive_with_fds(this->b, buffer, storage, inherit);
  ASSERT_TRUE(span) << span.error().message();
  EXPECT_FALSE(has_cloexec(storage[0].get()));

  ASSERT_TRUE(send_with_fds(this->a, bytes_of("c"), {pipe.write.get()}));
  auto vector = receive_with_fds(this->b, buffer, inherit);
  ASSERT_TRUE(vector) << vector.error().message();
  EXPECT_FALSE(has_cloexec(vector.value().fds[0].get()));
}

// ---- Descriptors in flight: the kernel's garbage collector ---------------------------------

TYPED_TEST(FdPassing, AnEndSentOverItselfIsCollectedAfterClose) {
  // b travels into its own receive queue, so after close only the queue refers to it: a
  // cycle only the kernel's unix garbage collector frees. A pipe's write end rides along;
  // its EOF proves the collector ran and released everything in flight.
  auto expected = open_fds();
  expected.erase(this->a.native_handle());
  expected.erase(this->b.native_handle());
  {
    auto pipe = make_pipe();
    ASSERT_TRUE(
        send_with_fds(this->a, bytes_of("self"), {this->b.native_handle(), pipe.write.get()}));
    pipe.write.reset();
    ASSERT_TRUE(this->a.close());
    ASSERT_TRUE(this->b.close());
    EXPECT_TRUE(eventually_eof(pipe.read.get()));
  }
  EXPECT_EQ(open_fds(), expected);
}

TYPED_TEST(FdPassing, BothEndsSentAcrossEachOtherAreCollectedAfterClose) {
  auto pipe = make_pipe();
  ASSERT_TRUE(send_with_fds(this->a, bytes_of("a"), {this->a.native_handle(), pipe.write.get()}));
  ASSERT_TRUE(send_with_fds(this->b, bytes_of("b"), {this->b.native_handle()}));
  pipe.write.reset();
  ASSERT_TRUE(this->a.close());
  ASSERT_TRUE(this->b.close());
  EXPECT_TRUE(eventually_eof(pipe.read.get()));
}

// ---- Failures of the call itself ----------------------------------------------------------

TYPED_TEST(FdPassing, NonBlockingReceiveOfNothingWouldBlockAndOwnsNothing) {
  auto pair = socket_pair<TypeParam>::create({.nonblocking = true});
  ASSERT_TRUE(pair);
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<4>(pair.value().second, buffer);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_would_block);
}

TYPED_TEST(FdPassing, SendingToAClosedPeerFailsWithoutSigpipe) {
  // The default SIGPIPE disposition would kill the test program: reaching the checks at all
  // shows MSG_NOSIGNAL was used.
  auto pipe = make_pipe();
  ASSERT_TRUE(this->b.close());
  auto sent = send_with_fds(this->a, bytes_of("x"), {pipe.write.get()});
  ASSERT_FALSE(sent);
  if constexpr (std::is_same_v<TypeParam, dgram>) {
    EXPECT_EQ(sent.error(), std::errc::connection_refused);  // a dgram peer is gone
  } else {
    EXPECT_EQ(sent.error(), std::errc::broken_pipe);
  }
}

TYPED_TEST(FdPassing, ClosedDescriptorIsRefusedByTheKernel) {
  auto pipe = make_pipe();
  const int closed = pipe.write.get();
  pipe.write.reset();
  auto sent = send_with_fds(this->a, bytes_of("x"), {closed});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::bad_file_descriptor);
  EXPECT_TRUE(nothing_to_read(this->b.native_handle()));
}

// ---- Streams: at least one byte, and descriptors stay with their bytes ---------------------

TEST_F(StreamFdPassing, RefusesDescriptorsWithoutAByteToCarryThem) {
  auto pipe = make_pipe();
  auto sent = send_with_fds(a, {}, {pipe.write.get()});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::invalid_argument);
  EXPECT_TRUE(nothing_to_read(b.native_handle()));
  // Without descriptors an empty send is an ordinary no-op.
  auto empty = send_with_fds(a, {}, std::span<const int>());
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty.value(), 0U);
}

TEST_F(StreamFdPassing, KernelDropsTheDescriptorsOfAZeroByteSend) {
  // Why the rule above exists: raw sendmsg of zero bytes "succeeds" and nothing arrives.
  auto pipe = make_pipe();
  EXPECT_EQ(raw_send_rights(a.native_handle(), "", {{pipe.write.get()}}), 0);
  EXPECT_TRUE(nothing_to_read(b.native_handle()));
}

TEST_F(StreamFdPassing, RefusesAnEmptyReceiveBuffer) {
  auto pipe = make_pipe();
  ASSERT_TRUE(send_with_fds(a, bytes_of("x"), {pipe.write.get()}));
  auto got = receive_with_fds<1>(b, std::span<std::byte>());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::invalid_argument);
  std::array<std::byte, 1> buffer{};
  auto later = receive_with_fds<1>(b, buffer);  // nothing was consumed
  ASSERT_TRUE(later) << later.error().message();
  EXPECT_EQ(later.value().size, 1U);
  EXPECT_EQ(later.value().fds.size(), 1U);
}

TEST_F(StreamFdPassing, DescriptorsArriveWithTheBytesTheyWereSentWith) {
  auto first = make_pipe();
  auto second = make_pipe();
  ASSERT_TRUE(send_with_fds(a, bytes_of("one"), {first.read.get()}));
  ASSERT_TRUE(send_with_fds(a, bytes_of("two"), {second.read.get()}));
  std::array<std::byte, 64> buffer{};
  auto one = receive_with_fds(b, buffer);
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(text_of(buffer, one.value().size), "one");  // not "onetwo"
  ASSERT_EQ(one.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(one.value().fds[0].get(), first.read.get()));
  auto two = receive_with_fds(b, buffer);
  ASSERT_TRUE(two) << two.error().message();
  EXPECT_EQ(text_of(buffer, two.value().size), "two");
  ASSERT_EQ(two.value().fds.size(), 1U);
  EXPECT_TRUE(same_file(two.value().fds[0].get(), second.read.get()));
}

TEST_F(StreamFdPassing, AShortSendCarriesTheDescriptorsWithItsFirstBytes) {
  auto pair = socket_pair<stream>::create({.nonblocking = true});
  ASSERT_TRUE(pair);
  auto& [sender, receiver] = pair.value();
  auto pipe = make_pipe();
  const std::vector<std::byte> big(4 << 20);  // far more than a socket buffer holds
  auto sent = send_with_fds(sender, big, {pipe.write.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_GT(sent.value(), 0U);
  ASSERT_LT(sent.value(), big.size());

  std::vector<std::byte> buffer(big.size());
  std::size_t received = 0;
  std::size_t descriptors = 0;
  bool first_receive_had_them = false;
  while (received < sent.value()) {
    auto got = receive_with_fds(receiver, buffer);
    ASSERT_TRUE(got) << got.error().message();
    if (received == 0) {
      first_receive_had_them = got.value().fds.size() == 1;
    }
    descriptors += got.value().fds.size();
    received += got.value().size;
  }
  EXPECT_TRUE(first_receive_had_them);
  EXPECT_EQ(descriptors, 1U);
  EXPECT_EQ(received, sent.value());
}

TEST_F(StreamFdPassing, EndOfStreamIsZeroBytesAndNoDescriptors) {
  ASSERT_TRUE(a.shutdown(sockpair::shutdown_how::write));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<2>(b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().size, 0U);
  EXPECT_TRUE(got.value().fds.empty());
}

// ---- The fixed-capacity container ---------------------------------------------------------

TEST(InplaceFdVector, MovingTransfersOwnershipAndClearCloses) {
  auto pair = socket_pair<seqpacket>::create();
  ASSERT_TRUE(pair);
  auto pipe = make_pipe();
  ASSERT_TRUE(
      send_with_fds(pair.value().first, bytes_of("m"), {pipe.read.get(), pipe.write.get()}));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<2>(pair.value().second, buffer);
  ASSERT_TRUE(got) << got.error().message();
  inplace_fd_vector<2> moved = std::move(got.value().fds);
  EXPECT_TRUE(got.value().fds.empty());  // NOLINT(bugprone-use-after-move): the contract
  ASSERT_EQ(moved.size(), 2U);
  EXPECT_EQ(moved.capacity(), 2U);
  const int first = moved[0].get();
  const int second = moved[1].get();
  EXPECT_TRUE(is_open(first));
  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_FALSE(is_open(first));
  EXPECT_FALSE(is_open(second));
}

}  // namespace
