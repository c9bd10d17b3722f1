// A child started with posix_spawn inherits exactly one end of a pair: the one whose
// close-on-exec flag was cleared. It reports, over that very end, every descriptor it has.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <string>

#include "tests/support/fds.hpp"

extern char** environ;

namespace sockpair::testing {
namespace {

// The helper binary: from Bazel's runfiles, or next to this test when built by hand.
// (GoogleTest runs the tests on one thread: the environment is read, never written.)
std::string fd_report_path() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): see above
  if (const char* explicit_path = std::getenv("FD_REPORT")) {
    return explicit_path;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");        // NOLINT(concurrency-mt-unsafe): above
  const char* workspace = std::getenv("TEST_WORKSPACE");  // NOLINT(concurrency-mt-unsafe): above
  if (srcdir != nullptr && workspace != nullptr) {
    return std::string(srcdir) + "/" + workspace + "/tests/io/fd_report";
  }
  std::array<char, PATH_MAX> self{};
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string dir(self.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  return dir.substr(0, dir.rfind('/')) + "/fd_report";
}

TEST(Spawn, TheChildInheritsOnlyTheEndWhoseCloseOnExecWasCleared) {
  // Whatever this process inherited from its own parent (the test runner's descriptors) is
  // not the library's to leak: mark it close-on-exec so that the check below sees ours only.
  for (const int fd : open_fds()) {
    if (fd > 2) {
      ASSERT_NE(::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC), -1);
    }
  }
  auto pair = socket_pair<stream>::create().value();
  auto others = socket_pair<seqpacket>::create().value();  // must not leak either
  auto& mine = pair.first;
  auto& theirs = pair.second;
  ASSERT_TRUE(theirs.set_cloexec(false));

  const std::string path = fd_report_path();
  const std::string fd_argument = std::to_string(theirs.native_handle());
  char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(fd_argument.c_str()), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ), 0) << path;
  ASSERT_TRUE(theirs.close());  // the child holds the only other copy now

  std::string report;
  std::array<char, 256> buffer{};
  for (;;) {
    auto got = mine.receive(buffer);
    ASSERT_TRUE(got) << got.error().message();
    if (got.value() == 0) {
      break;  // the child exited: its end closed
    }
    report.append(buffer.data(), got.value());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: the inherited descriptor could not be adopted";
  EXPECT_EQ(report, "0 1 2 " + fd_argument)
      << "the child should see stdin, stdout, stderr and the one inherited end";
}

}  // namespace
}  // namespace sockpair::testing
