// sockpair::version agrees with the SOCKPAIR_VERSION_* macros, and MODULE.bazel's
// module(version = ...) agrees with socketpair/version.hpp, the one place the version is
// written (the CMake project and the pkg-config file read it from there).
#include <socketpair/version.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

static_assert(sockpair::version.major == SOCKPAIR_VERSION_MAJOR);
static_assert(sockpair::version.minor == SOCKPAIR_VERSION_MINOR);
static_assert(sockpair::version.patch == SOCKPAIR_VERSION_PATCH);

// Under `bazel test` MODULE.bazel is in the runfiles tree; under CTest (and by hand) the
// working directory is the repository.
std::string module_bazel_path() {
  const char* runfiles = std::getenv("TEST_SRCDIR");      // NOLINT(concurrency-mt-unsafe)
  const char* workspace = std::getenv("TEST_WORKSPACE");  // NOLINT(concurrency-mt-unsafe)
  if (runfiles != nullptr && workspace != nullptr) {
    return std::string(runfiles) + "/" + workspace + "/MODULE.bazel";
  }
  return "MODULE.bazel";
}

TEST(Version, StringIsMajorDotMinorDotPatch) {
  const std::string expected = std::to_string(sockpair::version.major) + "." +
                               std::to_string(sockpair::version.minor) + "." +
                               std::to_string(sockpair::version.patch);
  EXPECT_EQ(std::string(sockpair::version.string), expected);
  EXPECT_EQ(std::string(SOCKPAIR_VERSION_STRING), expected);
}

TEST(Version, ModuleBazelDeclaresTheSameVersion) {
  std::ifstream in(module_bazel_path());
  ASSERT_TRUE(in) << "cannot open " << module_bazel_path();
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  // module( name = "socketpair", version = "X.Y.Z", ...
  const std::regex module_call(
      R"re(module\(\s*name\s*=\s*"socketpair"\s*,\s*version\s*=\s*"([^"]*)")re");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(content, match, module_call))
      << "no module(name = \"socketpair\", version = ...) in MODULE.bazel";
  EXPECT_EQ(match[1].str(), sockpair::version.string);
}

}  // namespace
