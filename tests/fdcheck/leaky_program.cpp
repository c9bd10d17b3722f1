// A test program that misbehaves on purpose, run by fd_check_test.cpp under the fd-check main:
// each test below either leaks, closes what it does not own, or is clean. It is not a test
// target itself (its failures are the expected outcome).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

int environment_fd = -1;  // opened by the environment, owned by nobody's test

class OpensOneDescriptor : public ::testing::Environment {
 public:
  void SetUp() override { environment_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
  void TearDown() override {
    if (environment_fd >= 0) {
      ::close(environment_fd);
    }
  }
};

// Owned by GoogleTest. NOLINTNEXTLINE(cert-err58-cpp): a throw here ends the program, as it should
const auto* const environment = ::testing::AddGlobalTestEnvironment(new OpensOneDescriptor);

TEST(Leaky, LeaksOneSocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::close(fds[1]);  // fds[0] stays open: the leak this program is about
}

TEST(Leaky, ClosesEverythingItOpens) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Leaky, ReplacesADescriptorItDidNotOpen) {
  ASSERT_GE(environment_fd, 0);
  ::close(environment_fd);
  // The lowest free number is the one just closed: a socket now sits where /dev/null was.
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(fd, environment_fd);
  environment_fd = -1;  // the environment's descriptor is gone; the socket is the leak
}

class LeakySuite : public ::testing::Test {
 public:
  static void SetUpTestSuite() { suite_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
  static inline int suite_fd = -1;  // never closed: a leak of the suite, not of a test
};

TEST_F(LeakySuite, UsesTheSuiteDescriptor) { EXPECT_GE(suite_fd, 0); }

}  // namespace
