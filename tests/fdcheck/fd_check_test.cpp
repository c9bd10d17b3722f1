// Proves the fd-check main works: runs leaky_program (built on the same main) as a child and
// checks that exactly the misbehaving tests and suite failed, each with the descriptor named.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

// (GoogleTest runs the tests on one thread: the environment is read, never written.)
std::string leaky_program_path() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* explicit_path = std::getenv("FD_CHECK_LEAKY_PROGRAM")) {
    return explicit_path;
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");        // NOLINT(concurrency-mt-unsafe)
  const char* workspace = std::getenv("TEST_WORKSPACE");  // NOLINT(concurrency-mt-unsafe)
  if (srcdir == nullptr || workspace == nullptr) {
    return "";
  }
  return std::string(srcdir) + "/" + workspace + "/tests/fdcheck/leaky_program";
}

std::string temp_dir() {
  const char* dir = std::getenv("TEST_TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  return dir != nullptr ? dir : "/tmp";
}

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `argv` with stdout and stderr captured; nothing of the child stays open afterwards.
run_result run(const std::vector<std::string>& argv) {
  run_result out;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return out;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    ADD_FAILURE() << "posix_spawn " << argv[0] << " failed: " << spawned;
    return out;
  }
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    out.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// The <testcase ...> element for `name` in a GoogleTest XML report ("" when absent).
std::string testcase_element(const std::string& xml, const std::string& name) {
  const auto start = xml.find("<testcase name=\"" + name + "\"");
  if (start == std::string::npos) {
    return "";
  }
  const auto end = xml.find("</testcase>", start);
  const auto self_closed = xml.find("/>\n", start);
  const auto stop = std::min(end, self_closed);
  return xml.substr(start, stop == std::string::npos ? std::string::npos : stop - start);
}

class LeakyProgram : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string program = leaky_program_path();
    ASSERT_FALSE(program.empty()) << "set FD_CHECK_LEAKY_PROGRAM outside Bazel";
    // One file per process: CTest runs each test of this suite as its own process, at once,
    // in the same /tmp, and a shared name let one read the report another was writing.
    const std::string xml_path =
        temp_dir() + "/leaky_program." + std::to_string(::getpid()) + ".xml";
    result = run({program, "--gtest_output=xml:" + xml_path});
    std::ifstream in(xml_path);
    std::stringstream text;
    text << in.rdbuf();
    xml = text.str();
    std::remove(xml_path.c_str());
  }
  static inline run_result result;
  static inline std::string xml;
};

TEST_F(LeakyProgram, ExitsWithFailure) { EXPECT_EQ(result.exit_code, 1) << result.output; }

TEST_F(LeakyProgram, FailsTheTestThatLeaksAndNamesTheDescriptor) {
  const std::string element = testcase_element(xml, "LeaksOneSocketPair");
  ASSERT_FALSE(element.empty()) << xml;
  EXPECT_NE(element.find("<failure"), std::string::npos) << element;
  EXPECT_NE(element.find("leaked descriptor"), std::string::npos) << element;
  EXPECT_NE(element.find("socket:["), std::string::npos) << element;
  EXPECT_NE(result.output.find("[  FAILED  ] Leaky.LeaksOneSocketPair"), std::string::npos)
      << result.output;
}

TEST_F(LeakyProgram, PassesTheTestThatClosesEverything) {
  const std::string element = testcase_element(xml, "ClosesEverythingItOpens");
  ASSERT_FALSE(element.empty()) << xml;
  EXPECT_EQ(element.find("<failure"), std::string::npos) << element;
  EXPECT_NE(result.output.find("[       OK ] Leaky.ClosesEverythingItOpens"), std::string::npos)
      << result.output;
}

TEST_F(LeakyProgram, FailsTheTestThatReplacesADescriptorBehindItsOwnersBack) {
  const std::string element = testcase_element(xml, "ReplacesADescriptorItDidNotOpen");
  ASSERT_FALSE(element.empty()) << xml;
  EXPECT_NE(element.find("<failure"), std::string::npos) << element;
  EXPECT_NE(element.find("instead of /dev/null"), std::string::npos) << element;
}

TEST_F(LeakyProgram, FailsTheSuiteWhoseSetUpLeaks) {
  // The suite's only test is clean; the suite itself is reported.
  const std::string element = testcase_element(xml, "UsesTheSuiteDescriptor");
  ASSERT_FALSE(element.empty()) << xml;
  EXPECT_EQ(element.find("<failure"), std::string::npos) << element;
  EXPECT_NE(result.output.find("fd-check: test suite LeakySuite changed the open descriptors"),
            std::string::npos)
      << result.output;
}

TEST_F(LeakyProgram, ReportsEachLeakOnceAtTheInnermostLevel) {
  EXPECT_EQ(result.output.find("fd-check: test suite Leaky changed"), std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("fd-check: the global test environments changed"), std::string::npos)
      << result.output;
}

TEST_F(LeakyProgram, PrintsItsCount) {
  EXPECT_NE(result.output.find("fd-check: 7 checks, "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(", 3 differences"), std::string::npos) << result.output;
}

}  // namespace
