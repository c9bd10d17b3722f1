// Interoperability with an implementation nobody here wrote: CPython's socket.send_fds and
// socket.recv_fds (Debian's /usr/bin/python3) on the other end of a real pair, both ways.
// The script is python_peer.py, next to this file.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>
#include <utility>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/fds.hpp"

namespace {

using sockpair::dgram;
using sockpair::receive_with_fds;
using sockpair::send_with_fds;
using sockpair::seqpacket;
using sockpair::set_receive_credentials;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::stream;
using sockpair::testing::bytes_of;
using sockpair::testing::exit_status_of;
using sockpair::testing::has_cloexec;
using sockpair::testing::make_pipe;
using sockpair::testing::read_to_eof;
using sockpair::testing::text_of;

// Debian's interpreter, by full path: the `python3` on PATH may be another build.
constexpr const char* python = "/usr/bin/python3";

// Under `bazel test` the script is in the runfiles tree; run by hand, from the repository.
std::string script_path() {
  const char* runfiles = std::getenv("TEST_SRCDIR");      // NOLINT(concurrency-mt-unsafe)
  const char* workspace = std::getenv("TEST_WORKSPACE");  // NOLINT(concurrency-mt-unsafe)
  if (runfiles != nullptr && workspace != nullptr) {
    return std::string(runfiles) + "/" + workspace + "/tests/fd_passing/python_peer.py";
  }
  return "tests/fd_passing/python_peer.py";
}

// Runs `python_peer.py FD MODE` in a child whose only inherited socket is `end`: every other
// descriptor of this process is close-on-exec, and `end` is made inheritable in the child
// only. Returns the child's pid.
pid_t start_python(int end, const char* mode) {
  const std::string script = script_path();
  const std::string fd = std::to_string(end);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::fcntl(end, F_SETFD, 0) != 0) {
      ::_exit(120);
    }
    ::execl(python, "python3", "-I", script.c_str(), fd.c_str(), mode, nullptr);
    ::_exit(121);  // exec failed
  }
  return pid;
}

template <class Type>
class PythonPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(python, X_OK), 0) << python << " is needed (tools/setup installs it)";
    ASSERT_EQ(::access(script_path().c_str(), R_OK), 0) << script_path();
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    ours = std::move(pair.value().first);
    theirs = std::move(pair.value().second);
  }

  // Starts Python on `theirs` and closes this process's copy of it.
  pid_t start(const char* mode) {
    const pid_t pid = start_python(theirs.native_handle(), mode);
    static_cast<void>(theirs.close());
    return pid;
  }

  socket<Type> ours;
  socket<Type> theirs;
};

using AllTypes = ::testing::Types<stream, dgram, seqpacket>;
TYPED_TEST_SUITE(PythonPeer, AllTypes);

TYPED_TEST(PythonPeer, ReceivesWhatPythonSendFdsSent) {
  const pid_t child = this->start("send");
  ASSERT_GT(child, 0);
  std::array<std::byte, 256> buffer{};
  auto got = receive_with_fds(this->ours, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(text_of(buffer, got.value().size), "pipe line|file from python\n");
  auto& fds = got.value().fds;
  ASSERT_EQ(fds.size(), 2U);
  EXPECT_TRUE(has_cloexec(fds[0].get()));
  EXPECT_TRUE(has_cloexec(fds[1].get()));
  // The pipe Python opened: Python writes a line and closes its end.
  EXPECT_EQ(read_to_eof(fds[0].get()), "pipe line from python " + std::to_string(child) + "\n");
  // The unlinked file Python created: reachable only through the descriptor.
  std::array<char, 64> file{};
  const ssize_t n = ::pread(fds[1].get(), file.data(), file.size(), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(file.data(), static_cast<std::size_t>(n)), "file from python\n");
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(PythonPeer, PythonRecvFdsReceivesWhatWeSent) {
  auto pipe = make_pipe();
  auto sent = send_with_fds(this->ours, bytes_of("hello python"), {pipe.write.get()});
  ASSERT_TRUE(sent) << sent.error().message();
  pipe.write.reset();  // Python's copy becomes the only write end
  const pid_t child = this->start("receive");
  ASSERT_GT(child, 0);
  EXPECT_EQ(read_to_eof(pipe.read.get()), "python got: hello python");
  EXPECT_EQ(exit_status_of(child), 0);
}

TYPED_TEST(PythonPeer, CredentialsPythonAttachedArriveAsSent) {
  ASSERT_TRUE(set_receive_credentials(this->ours, true));
  const pid_t child = this->start("credentials");
  ASSERT_GT(child, 0);
  std::array<std::byte, 64> buffer{};
  auto got = receive_with_fds<1>(this->ours, buffer);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got.value().credentials);
  const sockpair::credentials expected{child, ::getuid(), ::getgid()};
  EXPECT_EQ(got.value().credentials.value(), expected);
  EXPECT_EQ(
      text_of(buffer, got.value().size),
      std::to_string(child) + " " + std::to_string(::getuid()) + " " + std::to_string(::getgid()));
  EXPECT_TRUE(got.value().fds.empty());
  EXPECT_EQ(exit_status_of(child), 0);
}

}  // namespace
