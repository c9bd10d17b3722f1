// Credentials across user namespaces: a child forked into a new user namespace
// (clone(CLONE_NEWUSER), as unshare(CLONE_NEWUSER) after a fork; no privilege needed) and
// its parent exchange messages with SCM_CREDENTIALS over a pair made before the fork.
// - The child maps its own outside ids to 4242 inside and sends: the parent, outside, sees
//   the child's ids as they are outside (its mapped ids), not the 4242 the child believes.
// - The parent sends to a child whose namespace maps nothing: the child sees the overflow
//   ids (/proc/sys/kernel/overflowuid, 65534), since the parent's ids mean nothing there;
//   and to a child whose namespace maps the parent's ids: it sees them as mapped (4242).
// The pid is the child's real pid throughout: the pid namespace is not changed.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::credentials;
using sockpair::dgram;
using sockpair::receive_with_fds;
using sockpair::send_with_credentials;
using sockpair::seqpacket;
using sockpair::set_receive_credentials;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::exit_status_of;

// The id every user (and group) inside the child's namespace maps from outside.
constexpr unsigned inside_id = 4242;

// Reports travel as fixed 64-byte messages, so that a stream reads them one by one.
constexpr std::size_t report_size = 64;

std::string describe(const credentials& c) {
  return std::to_string(c.pid) + " " + std::to_string(c.uid) + " " + std::to_string(c.gid);
}

unsigned read_id_file(const char* path) {
  std::ifstream in(path);
  unsigned value = 0;
  in >> value;
  return value;
}

bool write_file(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Forks a child directly into a new user namespace: clone(2) with CLONE_NEWUSER, what
// fork(2) and then unshare(CLONE_NEWUSER) in the child would do. Not that pair: under
// ThreadSanitizer every forked child runs a background thread from the start, and unshare
// refuses a process with more than one thread (EINVAL); a raw clone leaves the sanitizer's
// fork hooks, and so its thread, out. (Safe while this process has one thread: gtest's.)
// Returns the child's pid in the parent, 0 in the child, -1 with errno on failure.
pid_t fork_into_new_user_namespace() {
  return static_cast<pid_t>(
      ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

// For that child: maps the ids it had outside, `uid` and `gid`, to `inside_id` (setgroups
// denied first, as an unprivileged writer must). An empty string on success, else what failed.
std::string map_ids(uid_t uid, gid_t gid) {
  if (!write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/uid_map",
                  std::to_string(inside_id) + " " + std::to_string(uid) + " 1") ||
      !write_file("/proc/self/gid_map",
                  std::to_string(inside_id) + " " + std::to_string(gid) + " 1")) {
    return "writing the id maps: " + sockpair::testing::errno_text();
  }
  if (::getuid() != inside_id || ::getgid() != inside_id) {
    return "ids inside are " + std::to_string(::getuid()) + " " + std::to_string(::getgid());
  }
  return {};
}

template <class Type>
bool send_report(socket<Type>& s, const std::string& text) {
  std::array<char, report_size> buffer{};
  std::memcpy(buffer.data(), text.data(), std::min(text.size(), buffer.size() - 1));
  if constexpr (std::is_same_v<Type, stream>) {
    return s.send_all(buffer).has_value();
  } else {
    return s.send(buffer).has_value();
  }
}

template <class Type>
std::string receive_report(socket<Type>& s) {
  std::array<char, report_size> buffer{};
  bool ok = false;
  if constexpr (std::is_same_v<Type, stream>) {
    ok = s.receive_exact(buffer).has_value();
  } else {
    auto got = s.receive(buffer);
    ok = got && got.value() == buffer.size();
  }
  return ok ? std::string(buffer.data()) : "(no report)";
}

template <class Type>
class UserNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
  }

  // The ids the parent (and so every child, outside its namespace) has.
  static credentials outside(pid_t pid) { return {pid, ::getuid(), ::getgid()}; }

  socket<Type> a;  // the parent's end
  socket<Type> b;  // the child's end
};

using AllTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(UserNamespace, AllTypes);

TYPED_TEST(UserNamespace, ChildInsideSendsAndTheParentSeesItsIdsAsMappedOutside) {
  ASSERT_TRUE(set_receive_credentials(this->a, true));  // before the child sends
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const pid_t child = fork_into_new_user_namespace();
  ASSERT_GE(child, 0) << sockpair::testing::errno_text();
  if (child == 0) {
    static_cast<void>(this->a.close());
    const std::string failed = map_ids(uid, gid);
    if (!failed.empty()) {
      static_cast<void>(send_report(this->b, "failed: " + failed));
      ::_exit(1);
    }
    // What the child believes: its pid, and 4242 for both ids.
    const std::string self = describe(sockpair::current_credentials());
    const bool ok = send_report(this->b, self) &&  // credentials the kernel attaches
                    [&] {                          // credentials attached explicitly
                      std::array<char, report_size> buffer{};
                      std::memcpy(buffer.data(), self.data(), self.size());
                      return send_with_credentials(this->b, buffer).has_value();
                    }();
    ::_exit(ok ? 0 : 2);
  }
  static_cast<void>(this->b.close());
  const credentials expected = this->outside(child);
  const std::string believed =
      std::to_string(child) + " " + std::to_string(inside_id) + " " + std::to_string(inside_id);
  for (int i = 0; i < 2; ++i) {
    std::array<char, report_size> buffer{};
    auto got = receive_with_fds<1>(this->a, buffer);
    ASSERT_TRUE(got) << i << ": " << got.error().message();
    ASSERT_EQ(std::string(buffer.data()), believed) << i;
    ASSERT_TRUE(got.value().credentials) << i;
    EXPECT_EQ(got.value().credentials.value(), expected) << i;
    EXPECT_NE(got.value().credentials.value().uid, inside_id) << i;
  }
  EXPECT_EQ(exit_status_of(child), 0);
}

// The parent sends to a child whose namespace `maps` the parent's ids to 4242, or maps no
// id at all; the child reports what it saw.
template <class Type>
void parent_sends_into_namespace(socket<Type>& a, socket<Type>& b, bool map,
                                 const credentials& expected_inside) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const pid_t child = fork_into_new_user_namespace();
  ASSERT_GE(child, 0) << sockpair::testing::errno_text();
  if (child == 0) {
    static_cast<void>(a.close());
    const std::string failed = map ? map_ids(uid, gid) : std::string();
    if (!failed.empty()) {
      static_cast<void>(send_report(b, "failed: " + failed));
      ::_exit(1);
    }
    if (!set_receive_credentials(b, true) || !send_report(b, "ready")) {
      ::_exit(2);
    }
    std::string seen;
    for (int i = 0; i < 2; ++i) {
      std::array<char, report_size> buffer{};
      auto got = receive_with_fds<1>(b, buffer);
      if (!got || !got.value().credentials) {
        ::_exit(3);
      }
      seen += (i == 0 ? "" : ", ") + describe(got.value().credentials.value());
    }
    ::_exit(send_report(b, seen) ? 0 : 4);
  }
  static_cast<void>(b.close());
  ASSERT_EQ(receive_report(a), "ready");  // the child's end now asks for credentials
  std::array<char, report_size> message{};
  ASSERT_TRUE(send_report(a, "kernel-attached"));
  ASSERT_TRUE(send_with_credentials(a, message));  // this process's own, attached explicitly
  const std::string one = describe(expected_inside);
  EXPECT_EQ(receive_report(a), one + ", " + one);
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(UserNamespace, ParentSeenFromANamespaceThatMapsNothingHasTheOverflowIds) {
  const auto overflow_uid = static_cast<uid_t>(read_id_file("/proc/sys/kernel/overflowuid"));
  const auto overflow_gid = static_cast<gid_t>(read_id_file("/proc/sys/kernel/overflowgid"));
  ASSERT_EQ(overflow_uid, 65534U);  // Linux's default, which docs/fd_passing.md quotes
  parent_sends_into_namespace(this->a, this->b, false,
                              credentials{::getpid(), overflow_uid, overflow_gid});
}

TYPED_TEST(UserNamespace, ParentSeenFromANamespaceThatMapsItsIdsHasTheMappedIds) {
  parent_sends_into_namespace(this->a, this->b, true,
                              credentials{::getpid(), inside_id, inside_id});
}

}  // namespace
