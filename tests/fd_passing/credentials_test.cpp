// Credentials over real socket pairs and real child processes: SO_PEERCRED, and per-message
// SCM_CREDENTIALS with SO_PASSCRED. When the tests run as root, children become `nobody`
// first, so that the ids checked differ from the parent's and cannot be the parent's.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::credentials;
using sockpair::current_credentials;
using sockpair::dgram;
using sockpair::peer_credentials;
using sockpair::receive_with_fds;
using sockpair::send_with_credentials;
using sockpair::send_with_fds;
using sockpair::seqpacket;
using sockpair::set_receive_credentials;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::bytes_of;
using sockpair::testing::drop_root_privileges;
using sockpair::testing::exit_status_of;
using sockpair::testing::make_pipe;
using sockpair::testing::open_fds;
using sockpair::testing::same_file;
using sockpair::testing::text_of;

// "pid uid gid" as text, what children report about themselves.
std::string describe(const credentials& c) {
  return std::to_string(c.pid) + " " + std::to_string(c.uid) + " " + std::to_string(c.gid);
}

template <class Type>
class Credentials : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
    unprivileged_children = sockpair::testing::children_can_run_unprivileged();
  }

  // For a forked child: becomes `nobody` when the test runs as root and that is possible.
  // On failure, says so to the parent over `b` (a parent blocked on a dgram socket would
  // never see the child exit) and exits with `code`.
  void drop_privileges_or_exit(int code) {
    if (unprivileged_children && !drop_root_privileges()) {
      fail_child(code);
    }
  }

  [[noreturn]] void fail_child(int code) {
    static_cast<void>(b.send(bytes_of("child failed " + std::to_string(code))));
    ::_exit(code);
  }

  // The ids a child has after `drop_privileges_or_exit`.
  [[nodiscard]] credentials expected_child(pid_t pid) const {
    if (::geteuid() == 0 && unprivileged_children) {
      return {pid, sockpair::testing::nobody_uid, sockpair::testing::nobody_gid};
    }
    return {pid, ::getuid(), ::getgid()};
  }

  socket<Type> a;
  socket<Type> b;
  bool unprivileged_children = false;
};

using AllTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(Credentials, AllTypes);

// ---- SO_PEERCRED --------------------------------------------------------------------------

TYPED_TEST(Credentials, PeerCredentialsOfAPairAreItsCreatorsEvenAfterFork) {
  const credentials parent = current_credentials();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto peer = peer_credentials(this->b);
    ::_exit(peer && peer.value().pid == ::getppid() ? 0 : 1);
  }
  auto peer = peer_credentials(this->a);
  ASSERT_TRUE(peer) << peer.error().message();
  EXPECT_EQ(peer.value().pid, parent.pid);  // not the child's: SO_PEERCRED dates from creation
  EXPECT_EQ(peer.value().uid, ::geteuid());
  EXPECT_EQ(peer.value().gid, ::getegid());
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(Credentials, PeerCredentialsOfAPairAForkedChildCreatedAreTheChilds) {
  // The child (as `nobody` when the test runs as root) creates a pair, keeps one end and
  // passes the other here, with its own getpid()/getuid()/getgid() as the message.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    static_cast<void>(this->a.close());
    this->drop_privileges_or_exit(10);
    auto own = socket_pair<TypeParam>::create();
    if (!own) {
      this->fail_child(11);
    }
    const std::string self = describe({::getpid(), ::getuid(), ::getgid()});
    if (!send_with_fds(this->b, bytes_of(self), {own.value().second.native_handle()})) {
      this->fail_child(12);
    }
    std::array<std::byte, 1> done{};
    static_cast<void>(own.value().first.receive(done));  // until the parent is finished
    ::_exit(0);
  }
  static_cast<void>(this->b.close());  // the child's copy is the only one now
  std::array<std::byte, 64> buffer{};
  auto got = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got.value().fds.size(), 1U) << text_of(buffer, got.value().size);
  auto theirs = socket<TypeParam>::adopt(std::move(got.value().fds[0]));
  ASSERT_TRUE(theirs) << theirs.error().message();
  auto peer = peer_credentials(theirs.value());
  ASSERT_TRUE(peer) << peer.error().message();
  EXPECT_EQ(describe(peer.value()), text_of(buffer, got.value().size));  // what it said
  EXPECT_EQ(peer.value(), this->expected_child(child));                  // what we know
  EXPECT_TRUE(theirs.value().send(bytes_of("k")));                       // the child may exit now
  EXPECT_EQ(exit_status_of(child), 0);
}

// ---- Per-message credentials --------------------------------------------------------------

TYPED_TEST(Credentials, EveryMessageFromAForkedChildCarriesItsCredentials) {
  ASSERT_TRUE(set_receive_credentials(this->a, true));  // before anything is sent
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    static_cast<void>(this->a.close());
    this->drop_privileges_or_exit(10);
    const std::string self = describe({::getpid(), ::getuid(), ::getgid()});
    auto pipe = make_pipe();
    const bool ok = this->b.send(bytes_of(self)) &&                            // kernel-attached
                    send_with_credentials(this->b, bytes_of(self)) &&          // explicit, own ids
                    send_with_fds(this->b, bytes_of(self), {pipe.read.get()},  // with a descriptor
                                  {.credentials = current_credentials()});
    ::_exit(ok ? 0 : 11);
  }
  static_cast<void>(this->b.close());  // the child's copy is the only one now
  const credentials expected = this->expected_child(child);
  for (int i = 0; i < 3; ++i) {
    std::array<std::byte, 64> buffer{};
    // On a stream, bytes sent with equal credentials may be read together: read one
    // report's length at a time.
    std::span<std::byte> one = buffer;
    if constexpr (std::is_same_v<TypeParam, stream>) {
      one = one.first(describe(expected).size());
    }
    auto got = receive_with_fds<1>(this->a, one);
    ASSERT_TRUE(got) << i << ": " << got.error().message();
    ASSERT_EQ(text_of(buffer, got.value().size), describe(expected)) << i;
    ASSERT_TRUE(got.value().credentials) << i;
    EXPECT_EQ(got.value().credentials.value(), expected) << i;
    EXPECT_EQ(got.value().fds.size(), i == 2 ? 1U : 0U) << i;
  }
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(Credentials, WithoutAskingNoCredentialsAreReported) {
  ASSERT_TRUE(send_with_credentials(this->b, bytes_of("x")));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(got.value().credentials);
}

TYPED_TEST(Credentials, TurningItOffStopsTheReports) {
  ASSERT_TRUE(set_receive_credentials(this->a, true));
  ASSERT_TRUE(set_receive_credentials(this->a, false));
  ASSERT_TRUE(this->b.send(bytes_of("x")));
  std::array<std::byte, 4> buffer{};
  auto got = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_FALSE(got.value().credentials);
}

TYPED_TEST(Credentials, MessageSentBeforeAskingCarriesNoRealCredentials) {
  // Linux records credentials at send time only when someone asked for them: a message
  // sent before SO_PASSCRED was on reports pid 0 (and the overflow ids), which is why
  // `set_receive_credentials` must come first, or the sender must attach them explicitly.
  ASSERT_TRUE(this->b.send(bytes_of("early")));
  ASSERT_TRUE(send_with_credentials(this->b, bytes_of("later")));
  ASSERT_TRUE(set_receive_credentials(this->a, true));
  std::array<std::byte, 5> buffer{};
  auto early = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(early) << early.error().message();
  ASSERT_TRUE(early.value().credentials);
  EXPECT_EQ(early.value().credentials.value().pid, 0);
  auto later = receive_with_fds<1>(this->a, buffer);
  ASSERT_TRUE(later) << later.error().message();
  ASSERT_TRUE(later.value().credentials);
  EXPECT_EQ(later.value().credentials.value(), current_credentials());
}

TYPED_TEST(Credentials, ClaimingAnotherProcessesPidWithoutPrivilegeIsRefused) {
  if (!this->unprivileged_children) {
    GTEST_SKIP() << "running as root where no child can become nobody (a user namespace "
                    "mapping only root, as in Bazel's sandbox; the target is no-sandbox)";
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    static_cast<void>(this->a.close());
    if (!drop_root_privileges() || ::geteuid() == 0) {
      ::_exit(10);  // still privileged: the kernel would allow the claim
    }
    credentials lie = current_credentials();
    lie.pid = ::getppid();
    auto sent = send_with_credentials(this->b, bytes_of("x"), lie);
    ::_exit(!sent && sent.error() == std::errc::operation_not_permitted ? 0 : 11);
  }
  static_cast<void>(this->b.close());
  EXPECT_EQ(exit_status_of(child), 0);
  EXPECT_EQ(sockpair::testing::pending_bytes(this->a.native_handle()), 0);
}

TYPED_TEST(Credentials, NeedADataByteOnAStreamOnly) {
  ASSERT_TRUE(set_receive_credentials(this->a, true));
  auto sent = send_with_credentials(this->b, std::span<const std::byte>());
  if constexpr (std::is_same_v<TypeParam, stream>) {
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error(), std::errc::invalid_argument);
    EXPECT_TRUE(sockpair::testing::nothing_to_read(this->a.native_handle()));
  } else {
    ASSERT_TRUE(sent) << sent.error().message();  // an empty message with credentials
    std::array<std::byte, 4> buffer{};
    auto got = receive_with_fds<1>(this->a, buffer);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got.value().size, 0U);
    ASSERT_TRUE(got.value().credentials);
    EXPECT_EQ(got.value().credentials.value(), current_credentials());
  }
}

TYPED_TEST(Credentials, CredentialsDoNotCrowdOutDescriptors) {
  // SCM_CREDENTIALS comes first in the control data; with no room reserved for it, 253
  // descriptors would no longer fit.
  ASSERT_TRUE(set_receive_credentials(this->a, true));
  auto pipe = make_pipe();
  const std::vector<int> fds(sockpair::max_fds_per_message, pipe.write.get());
  ASSERT_TRUE(send_with_fds(this->b, bytes_of("full"), fds));
  std::array<std::byte, 8> buffer{};
  auto got = receive_with_fds<sockpair::max_fds_per_message>(this->a, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().fds.size(), sockpair::max_fds_per_message);
  ASSERT_TRUE(got.value().credentials);
  EXPECT_EQ(got.value().credentials.value(), current_credentials());
}

#if defined(SO_PASSPIDFD)
constexpr int so_passpidfd = SO_PASSPIDFD;
#else
constexpr int so_passpidfd = 76;  // Linux >= 6.5; glibc 2.36's headers predate it
#endif

TYPED_TEST(Credentials, PidfdTheKernelAddsUnaskedIsClosed) {
  // With SO_PASSPIDFD on, Linux installs a pidfd of the sender in the receiver with every
  // message (SCM_PIDFD). The library does not return it; it must not leak either.
  const int on = 1;
  if (::setsockopt(this->a.native_handle(), SOL_SOCKET, so_passpidfd, &on, sizeof on) != 0) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5: " << sockpair::testing::errno_text();
  }
  {
    // The kernel really does add one: raw recvmsg sees it.
    ASSERT_TRUE(this->b.send(bytes_of("p")));
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) std::array<unsigned char, 256> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ASSERT_EQ(::recvmsg(this->a.native_handle(), &msg, MSG_CMSG_CLOEXEC), 1);
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->cmsg_type, 0x04);  // SCM_PIDFD
    int pidfd = -1;
    std::memcpy(&pidfd, CMSG_DATA(c), sizeof pidfd);
    EXPECT_EQ(::close(pidfd), 0);
  }
  auto pipe = make_pipe();
  const auto before = open_fds();
  {
    ASSERT_TRUE(send_with_fds(this->b, bytes_of("p"), {pipe.read.get()}));
    std::array<std::byte, 4> buffer{};
    auto got = receive_with_fds<1>(this->a, buffer);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(got.value().fds.size(), 1U);
    EXPECT_TRUE(same_file(got.value().fds[0].get(), pipe.read.get()));
    auto after_receive = open_fds();
    after_receive.erase(got.value().fds[0].get());
    EXPECT_EQ(after_receive, before);  // the pidfd is not among the open descriptors
  }
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
