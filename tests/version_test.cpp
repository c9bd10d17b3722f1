// sockpair::version agrees with the SOCKPAIR_VERSION_* macros, and MODULE.bazel's
// module(version = ...) agrees with socketpair/version.hpp, the one place the version is
// written (the CMake project and the pkg-config file read it from there).
#include <socketpair/version.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
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
  // module( name = "socketpair", version = "X.Y.Z", ... (searched by hand: <regex> trips
  // g++ 12's -Werror=maybe-uninitialized inside std::function under -O1, the asan build)
  const std::size_t module_call = content.find("module(");
  ASSERT_NE(module_call, std::string::npos) << "no module(...) in MODULE.bazel";
  const std::size_t name = content.find("name = \"socketpair\"", module_call);
  const std::size_t version_key = content.find("version = \"", module_call);
  const std::size_t end_of_call = content.find(')', module_call);
  ASSERT_TRUE(name < end_of_call && version_key < end_of_call)
      << "no module(name = \"socketpair\", version = ...) in MODULE.bazel";
  const std::size_t first = version_key + std::string("version = \"").size();
  const std::size_t last = content.find('"', first);
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(content.substr(first, last - first), sockpair::version.string);
}

}  // namespace
