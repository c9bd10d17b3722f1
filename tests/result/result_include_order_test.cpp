// Built with -fno-exceptions -fno-rtti from two translation units that include
// <boost/outcome/std_result.hpp> and the library in opposite orders. `value()` of a failed
// `sockpair::result` must, from either unit, print `sockpair: fatal: ...` with the error's
// message to stderr and abort; and the program must link without the user defining
// boost::throw_exception. (With a Boost configuration macro defined in a public header, the
// behaviour depended on the include order and the two units disagreed: an ODR violation.)
// GoogleTest is left out so that nothing else needs exceptions. Exits non-zero on the first
// failed check.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <system_error>

namespace order_test {
int value_of_failed_result_boost_first();
int value_of_failed_result_sockpair_errc_boost_first();
int value_of_failed_result_library_first();
}  // namespace order_test

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

struct child_outcome {
  int status = 0;
  std::string err;  // what the child wrote to stderr
};

// Runs `fn` in a forked child with stderr captured; the child exits 0 if `fn` returns.
child_outcome run_in_child(int (*fn)()) {
  child_outcome out;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    check(false, "pipe");
    return out;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    check(false, "fork");
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return out;
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    static_cast<void>(fn());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.err.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  ::waitpid(pid, &out.status, 0);
  return out;
}

void expect_fatal(int (*fn)(), const char* unit, const char* message) {
  const child_outcome out = run_in_child(fn);
  std::printf("%s: status %d, stderr: %s", unit, out.status, out.err.c_str());
  check(WIFSIGNALED(out.status) && WTERMSIG(out.status) == SIGABRT, unit);
  check(out.err.find("sockpair: fatal: ") != std::string::npos, "prints `sockpair: fatal: `");
  check(out.err.find(message) != std::string::npos, "prints the error's message");
}

}  // namespace

int main() {
  const std::string reset = std::generic_category().message(ECONNRESET);
  expect_fatal(order_test::value_of_failed_result_boost_first, "std_result.hpp first",
               reset.c_str());
  expect_fatal(order_test::value_of_failed_result_library_first, "library first", reset.c_str());
  expect_fatal(order_test::value_of_failed_result_sockpair_errc_boost_first,
               "sockpair::errc, std_result.hpp first", "peer closed the connection");
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
