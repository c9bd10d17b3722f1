// A GoogleTest main that fails every test which leaves a descriptor open, or closes one it did
// not open.
//
// How: a listener snapshots /proc/self/fd (each descriptor and what it refers to, e.g.
// "socket:[1234]") when a test starts and compares when it ends. GoogleTest calls
// `OnTestEnd` while the test is still the current one and calls listeners' `OnTestEnd` in
// reverse order of installation, so an `ADD_FAILURE()` there is recorded in that test's
// result (it fails, the XML report names it) before the default printer reports the test.
// The same check brackets each test suite (for SetUpTestSuite/TearDownTestSuite) and the
// global environments; a failure there fails the suite or the program.
//
// Comparing targets as well as numbers catches a leak hidden by reuse: a test that closes
// descriptor 5 and leaves another open at 5 has changed what 5 refers to.
//
// At the end it prints one line for the record:
//   fd-check: N checks, M descriptors compared, K differences
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>

namespace {

// Descriptor -> what it refers to ("socket:[123]", "/dev/null", "pipe:[45]", ...).
using fd_table = std::map<int, std::string>;

fd_table snapshot() {
  fd_table table;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    std::fprintf(stderr, "fd-check: cannot open /proc/self/fd (errno %d)\n", errno);
    std::abort();  // without /proc this main would pass tests it cannot check
  }
  const int own = ::dirfd(dir);
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR stream is used by this thread only
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    const int fd = static_cast<int>(std::strtol(entry->d_name, nullptr, 10));
    if (fd == own) {
      continue;
    }
    char target[4096];
    const std::string link = std::string("/proc/self/fd/") + entry->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    // A descriptor closed by another thread between readdir and readlink is gone: skip it.
    if (n >= 0) {
      table.emplace(fd, std::string(target, static_cast<std::size_t>(n)));
    }
  }
  ::closedir(dir);
  return table;
}

// What changed between two snapshots, one line per descriptor; empty when nothing did.
std::string differences(const fd_table& before, const fd_table& after, int& count) {
  std::ostringstream out;
  for (const auto& [fd, target] : after) {
    const auto was = before.find(fd);
    if (was == before.end()) {
      out << "  leaked descriptor " << fd << " -> " << target << "\n";
      ++count;
    } else if (was->second != target) {
      out << "  descriptor " << fd << " now refers to " << target << " instead of " << was->second
          << " (closed and reopened: a leak hidden by reuse)\n";
      ++count;
    }
  }
  for (const auto& [fd, target] : before) {
    if (after.find(fd) == after.end()) {
      out << "  closed descriptor " << fd << " -> " << target
          << " that was open before (a close of a descriptor it did not open)\n";
      ++count;
    }
  }
  return out.str();
}

class descriptor_check final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    std::printf("fd-check: %ld checks, %ld descriptors compared, %d differences\n", checks_,
                compared_, differences_);
    std::fflush(stdout);
  }

  void OnEnvironmentsSetUpStart(const ::testing::UnitTest&) override { program_ = snapshot(); }
  void OnEnvironmentsTearDownEnd(const ::testing::UnitTest&) override {
    check(program_, "the global test environments");
  }

  void OnTestSuiteStart(const ::testing::TestSuite&) override { suite_ = snapshot(); }
  void OnTestSuiteEnd(const ::testing::TestSuite& suite) override {
    check(suite_, std::string("test suite ") + suite.name(), {&program_});
  }

  void OnTestStart(const ::testing::TestInfo&) override { test_ = snapshot(); }
  void OnTestEnd(const ::testing::TestInfo&) override {
    check(test_, "this test", {&suite_, &program_});
  }

 private:
  // Compares now with `before` and fails the current test (or suite, or program) on any
  // difference. Differences reported here are applied to the enclosing levels' baselines, so
  // one leak is reported once, by the innermost level that saw it happen.
  void check(const fd_table& before, const std::string& who,
             std::initializer_list<fd_table*> enclosing = {}) {
    const fd_table after = snapshot();
    ++checks_;
    compared_ += static_cast<long>(after.size());
    int count = 0;
    const std::string diff = differences(before, after, count);
    if (diff.empty()) {
      return;
    }
    differences_ += count;
    ADD_FAILURE() << "fd-check: " << who << " changed the open descriptors:\n" << diff;
    for (fd_table* outer : enclosing) {
      for (const auto& [fd, target] : before) {
        if (after.find(fd) == after.end()) {
          outer->erase(fd);
        }
      }
      for (const auto& [fd, target] : after) {
        (*outer)[fd] = target;
      }
    }
  }

  fd_table program_;
  fd_table suite_;
  fd_table test_;
  long checks_ = 0;
  long compared_ = 0;
  int differences_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Appended after the default printer, so its OnTestEnd runs first (GoogleTest calls the
  // *End events in reverse order) and the printer already sees the failure.
  ::testing::UnitTest::GetInstance()->listeners().Append(new descriptor_check);
  return RUN_ALL_TESTS();
}
