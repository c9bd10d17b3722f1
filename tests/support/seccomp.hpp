// Test support: errors injected into chosen system calls of a forked child with a raw
// seccomp-bpf filter (no libseccomp), and calls that kill the child when made at all.
//
// Why a child: a seccomp filter cannot be removed, so it is installed in a forked child
// (`run_in_child`), which runs a body and reports a verdict to the test process. The filter
// applies to the thread that installs it and to what that thread forks later, not to other
// threads (no SECCOMP_FILTER_FLAG_TSYNC): sanitizer threads and helper threads made before
// the install are not filtered. PR_SET_NO_NEW_PRIVS is set first, so this works without
// privilege (as root, in Bazel's sandbox, and as any user).
//
// What a rule does to a matching call (first matching rule wins; other calls are allowed):
// - `fail(nr, errno)`: SECCOMP_RET_ERRNO. The call fails at once with that errno; the kernel
//   never runs it (nothing is sent, received, created or installed).
// - `kill(nr)`: SECCOMP_RET_KILL_PROCESS. The process dies of SIGSYS: proof that a code path
//   never makes that call.
// - `notify(nr)`: SECCOMP_RET_USER_NOTIF. The call waits while the test process decides, by
//   counting, what it gets (see `injection_plan`): let through (the kernel runs it, with
//   SECCOMP_USER_NOTIF_FLAG_CONTINUE), failed with an errno, or answered with a value
//   without running.
//
// Conditions scope a rule to some calls only (all must hold), so that a sanitizer's own
// system calls or the reporting pipe are never touched:
//   `arg_equals(0, fd)`     descriptor (int) argument equals fd (low 32 bits compared)
//   `arg_below(2, n)`       a size argument below n (unsigned 64-bit)
//   `arg_at_least(2, n)`    a size argument n or more
//   `arg_lacks_bits(3, m)`  an int flags argument with none of the bits of m
//
// Injecting a failure *in the middle* of a loop (the 3rd send of a send_all, say): pure BPF
// has no state, so it cannot count calls. Two ways are offered, each deterministic:
// 1. By argument: `send_all` and `receive_exact` pass the length still to go, so
//    `arg_below(2, total)` fails every call after the first one that made progress. Works
//    for send/recv (sendto/recvfrom), whose length is an argument.
// 2. By count, for any call (sendmsg/recvmsg carry their lengths behind a pointer BPF cannot
//    follow): `notify` rules, and an `injection_plan` ("let the first N through, fail the
//    next K with errno E, then let all through"), carried out by the test process, which
//    receives the filter's listener from the child and answers each call. The record of what
//    it saw (`child_report::calls`) says how many calls were made, so a test can also pin
//    that a retry happened (an injected EINTR that the library restarts), or that a call
//    was made exactly once. A plan that fails a call forever, with EINTR, would make a
//    restarting library spin: give EINTR a finite `fail_count`. Scope notify rules to the
//    descriptors under test: the listener is handed over with a sendmsg(2) of its own, on
//    a descriptor of the harness, which a rule matching every sendmsg would stop.
//
// Example:
//   auto report = run_in_child([&](child_context& child) -> std::string {
//     filter f;
//     f.notify(SYS_sendto, {arg_equals(0, fd)});
//     if (!child.install(f)) return "install failed";
//     ...                                   // the library call under test
//     return {};                            // empty: passed; otherwise what went wrong
//   }, {.pass_first = 1, .error = ENOBUFS});
//   EXPECT_TRUE(report.passed()) << report.describe();
#pragma once

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace sockpair::testing::seccomp {

#if defined(__x86_64__)
inline constexpr std::uint32_t native_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr std::uint32_t native_arch = AUDIT_ARCH_AARCH64;
#else
#error "tests/support/seccomp.hpp: add this architecture's AUDIT_ARCH_ value"
#endif

// ---- Rules --------------------------------------------------------------------------------

/// A test on one argument of a system call (see the header comment for the helpers).
struct condition {
  enum class kind : unsigned char { equals32, below64, at_least64, lacks_bits32 };
  kind test = kind::equals32;
  unsigned index = 0;  // argument 0..5
  std::uint64_t value = 0;
};

[[nodiscard]] inline condition arg_equals(unsigned index, int value) {
  return {condition::kind::equals32, index, static_cast<std::uint32_t>(value)};
}
[[nodiscard]] inline condition arg_below(unsigned index, std::uint64_t value) {
  return {condition::kind::below64, index, value};
}
[[nodiscard]] inline condition arg_at_least(unsigned index, std::uint64_t value) {
  return {condition::kind::at_least64, index, value};
}
[[nodiscard]] inline condition arg_lacks_bits(unsigned index, int bits) {
  return {condition::kind::lacks_bits32, index, static_cast<std::uint32_t>(bits)};
}

/// A seccomp-bpf program: rules tried in order, the first match deciding; anything else is
/// allowed. A call from another architecture or ABI (i386, x32) kills the process, since its
/// numbers mean other calls.
class filter {
 public:
  /// Matching calls fail with `error` (1..4095) without running.
  filter& fail(long nr, int error, std::initializer_list<condition> when = {}) {
    return add(nr, SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(error) & SECCOMP_RET_DATA),
               when);
  }
  /// Matching calls kill the process (SIGSYS).
  filter& kill(long nr, std::initializer_list<condition> when = {}) {
    return add(nr, SECCOMP_RET_KILL_PROCESS, when);
  }
  /// Matching calls wait for the test process's decision (`injection_plan`).
  filter& notify(long nr, std::initializer_list<condition> when = {}) {
    notifies_ = true;
    return add(nr, SECCOMP_RET_USER_NOTIF, when);
  }

  [[nodiscard]] bool notifies() const noexcept { return notifies_; }

  /// The BPF program.
  [[nodiscard]] std::vector<sock_filter> program() const {
    std::vector<sock_filter> out;
    out.push_back(load(offsetof(seccomp_data, arch)));
    out.push_back(jump(BPF_JEQ, native_arch, 1, 0));
    out.push_back(ret(SECCOMP_RET_KILL_PROCESS));
#if defined(__x86_64__)
    // The x32 ABI shares the architecture value and numbers its calls from bit 30 up.
    out.push_back(load(offsetof(seccomp_data, nr)));
    out.push_back(jump(BPF_JGE, 0x4000'0000U, 0, 1));
    out.push_back(ret(SECCOMP_RET_KILL_PROCESS));
#endif
    for (const rule& r : rules_) {
      const std::size_t first = out.size();
      std::vector<std::size_t> to_next;  // jumps to patch: to the next rule
      out.push_back(load(offsetof(seccomp_data, nr)));
      to_next.push_back(out.size());
      out.push_back(jump(BPF_JEQ, static_cast<std::uint32_t>(r.nr), 0, next_rule));
      for (const condition& c : r.when) {
        append_condition(out, to_next, c);
      }
      out.push_back(ret(r.action));
      const std::size_t next = out.size();
      for (const std::size_t at : to_next) {
        // The jump offsets that mean "next rule" were left 0xFF on the side that leaves.
        const auto distance = static_cast<std::uint8_t>(next - at - 1);
        if (out[at].jt == 0xFF) {
          out[at].jt = distance;
        }
        if (out[at].jf == 0xFF) {
          out[at].jf = distance;
        }
      }
      if (next - first > 250) {
        std::abort();  // BPF conditional jumps reach 255 instructions: too many conditions
      }
    }
    out.push_back(ret(SECCOMP_RET_ALLOW));
    return out;
  }

 private:
  struct rule {
    long nr;
    std::uint32_t action;
    std::vector<condition> when;
  };

  filter& add(long nr, std::uint32_t action, std::initializer_list<condition> when) {
    rules_.push_back(rule{nr, action, std::vector<condition>(when)});
    return *this;
  }

  static constexpr std::uint8_t next_rule = 0xFF;  // placeholder, patched in program()

  static sock_filter load(std::size_t offset) {
    return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(offset));
  }
  static sock_filter jump(std::uint16_t op, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    return BPF_JUMP(static_cast<std::uint16_t>(BPF_JMP | op | BPF_K), k, jt, jf);
  }
  static sock_filter ret(std::uint32_t value) {
    return BPF_STMT(static_cast<std::uint16_t>(BPF_RET | BPF_K), value);
  }
  // Offsets of an argument's low and high 32-bit words (little-endian).
  static std::size_t low_word(unsigned index) {
    return offsetof(seccomp_data, args) + 8 * std::size_t{index};
  }
  static std::size_t high_word(unsigned index) { return low_word(index) + 4; }

  // Falls through when `c` holds; jumps to the next rule (patched later) when it does not.
  static void append_condition(std::vector<sock_filter>& out, std::vector<std::size_t>& to_next,
                               const condition& c) {
    const auto low = static_cast<std::uint32_t>(c.value & 0xFFFF'FFFFU);
    const auto high = static_cast<std::uint32_t>(c.value >> 32);
    const auto leave_if = [&](std::uint16_t op, std::uint32_t k, bool when_true) {
      to_next.push_back(out.size());
      out.push_back(jump(op, k, when_true ? next_rule : 0, when_true ? 0 : next_rule));
    };
    switch (c.test) {
      case condition::kind::equals32:
        out.push_back(load(low_word(c.index)));
        leave_if(BPF_JEQ, low, false);
        break;
      case condition::kind::lacks_bits32:
        out.push_back(load(low_word(c.index)));
        leave_if(BPF_JSET, low, true);
        break;
      case condition::kind::below64:
        // high > H: no. high < H: yes. high == H: low < L.
        out.push_back(load(high_word(c.index)));
        leave_if(BPF_JGT, high, true);
        out.push_back(jump(BPF_JEQ, high, 0, 2));  // high < H: past the low test
        out.push_back(load(low_word(c.index)));
        leave_if(BPF_JGE, low, true);
        break;
      case condition::kind::at_least64:
        // high > H: yes. high < H: no. high == H: low >= L.
        out.push_back(load(high_word(c.index)));
        out.push_back(jump(BPF_JGT, high, 3, 0));  // high > H: past the low test
        leave_if(BPF_JEQ, high, false);
        out.push_back(load(low_word(c.index)));
        leave_if(BPF_JGE, low, false);
        break;
    }
  }

  std::vector<rule> rules_;
  bool notifies_ = false;
};

/// Installs `f` on the calling thread, after PR_SET_NO_NEW_PRIVS. Returns the listener
/// descriptor when `f` has `notify` rules, 0 when it has none, -1 with errno on failure.
/// Irreversible: call it in a forked child.
[[nodiscard]] inline int install(const filter& f) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return -1;
  }
  std::vector<sock_filter> code = f.program();
  sock_fprog program{};
  program.len = static_cast<unsigned short>(code.size());
  program.filter = code.data();
  const unsigned long flags = f.notifies() ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  const long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
  if (rc < 0) {
    return -1;
  }
  return f.notifies() ? static_cast<int>(rc) : 0;
}

// ---- Counting injections ------------------------------------------------------------------

/// What the test process answers to each call a `notify` rule stops, counting them in the
/// order they come (all notify rules share the count): the first `pass_first` run; the next
/// `fail_count` fail with `error`; all later ones run. `error == 0` fails none.
struct injection_plan {
  std::size_t pass_first = 0;
  int error = 0;
  std::size_t fail_count = std::numeric_limits<std::size_t>::max();
  /// With `error == 0` and `returns >= 0`: the calls that would fail instead return this
  /// value, without running (a send that "moved" 0 bytes, say: what a kernel that broke its
  /// contract would do).
  std::int64_t returns = -1;
};

/// One call a `notify` rule stopped, and what it got.
struct notified_call {
  long nr = 0;
  int error = 0;       // 0: it ran, or returned a faked value
  bool faked = false;  // it returned `injection_plan::returns` without running
  std::array<std::uint64_t, 6> args{};
};

/// How a child ended and what it said.
struct child_report {
  std::string verdict;  // the body's return value (empty: passed)
  int status = 0;       // from waitpid
  std::vector<notified_call> calls;

  [[nodiscard]] bool exited_normally() const {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  [[nodiscard]] bool killed_by(int signal) const {
    return WIFSIGNALED(status) && WTERMSIG(status) == signal;
  }
  [[nodiscard]] bool passed() const { return exited_normally() && verdict.empty(); }
  [[nodiscard]] std::size_t failed_calls() const {
    std::size_t n = 0;
    for (const notified_call& c : calls) {
      n += c.error != 0 ? 1 : 0;
    }
    return n;
  }
  [[nodiscard]] std::string describe() const {
    std::string out;
    if (WIFSIGNALED(status)) {
      out = "child killed by signal " + std::to_string(WTERMSIG(status));
    } else {
      out = "child exited with status " + std::to_string(WEXITSTATUS(status));
    }
    out += "; " + std::to_string(calls.size()) + " notified calls";
    if (!verdict.empty()) {
      out += "; said: " + verdict;
    }
    return out;
  }
};

/// What a child body is given: `install` puts a filter on the child, handing its listener
/// (if any) to the test process. At most one filter with `notify` rules per child.
class child_context {
 public:
  explicit child_context(int control) noexcept : control_(control) {}

  /// Installs `f`; false (errno set) on failure.
  [[nodiscard]] bool install(const filter& f) const {
    const int listener = seccomp::install(f);
    if (listener < 0) {
      return false;
    }
    if (listener == 0) {
      return true;
    }
    // Hand the listener over with SCM_RIGHTS (raw: the library is what is under test).
    char byte = 'L';
    iovec iov{&byte, 1};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
    const bool sent = ::sendmsg(control_, &msg, MSG_NOSIGNAL) == 1;
    ::close(listener);
    return sent;
  }

  /// Installs a filter that stops each of the system calls `nrs` made on descriptor `fd`
  /// (their first argument), for the test process to answer as its plan says, and nothing
  /// else; false (errno set) on failure.
  [[nodiscard]] bool notify_on(int fd, std::initializer_list<long> nrs) const {
    filter f;
    for (const long nr : nrs) {
      f.notify(nr, {arg_equals(0, fd)});
    }
    return install(f);
  }

 private:
  int control_;
};

namespace detail {

inline void write_fully(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

// The listener a child sent over `control`, or -1 when it sent none (it exited first).
inline int receive_listener(int control) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> space{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = space.data();
  msg.msg_controllen = space.size();
  ssize_t n = 0;
  do {
    n = ::recvmsg(control, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  const cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) {
    return -1;
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// Answers one stopped call as `plan` says, recording it.
inline void answer(int listener, const injection_plan& plan, std::vector<notified_call>& calls) {
  seccomp_notif request{};
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) {
    return;  // ENOENT: the caller was interrupted or died before we looked
  }
  const std::size_t index = calls.size();
  const bool fail = (plan.error != 0 || plan.returns >= 0) && index >= plan.pass_first &&
                    index - plan.pass_first < plan.fail_count;
  seccomp_notif_resp response{};
  response.id = request.id;
  if (fail && plan.error != 0) {
    response.error = -plan.error;
  } else if (fail) {
    response.val = plan.returns;  // error 0, no CONTINUE: the call returns this
  } else {
    response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  }
  notified_call record;
  record.nr = request.data.nr;
  record.error = fail ? plan.error : 0;
  record.faked = fail && plan.error == 0;
  for (std::size_t i = 0; i < record.args.size(); ++i) {
    record.args[i] = request.data.args[i];
  }
  calls.push_back(record);
  static_cast<void>(::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response));
}

}  // namespace detail

/// How long a child may run before SIGALRM ends it (a hang becomes a failure, not a
/// timeout of the whole test). Generous: each body here takes milliseconds.
inline constexpr unsigned child_watchdog_seconds = 30;

/// Forks; the child runs `body(child_context&)` (which returns "" when all was as expected,
/// otherwise what was not) and _exits, never returning into the test. Meanwhile this process
/// answers the child's notified calls as `plan` says, until the child has finished. Call
/// while this process has one thread. `body` must not fork children that outlive it.
template <class Body>
[[nodiscard]] child_report run_in_child(Body body, injection_plan plan = {}) {
  int report[2] = {-1, -1};
  int control[2] = {-1, -1};
  if (::pipe2(report, O_CLOEXEC) != 0 ||
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) {
    std::abort();
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::abort();
  }
  if (pid == 0) {
    ::close(report[0]);
    ::close(control[0]);
    ::alarm(child_watchdog_seconds);  // a body that hangs dies of SIGALRM, and says so
    child_context context(control[1]);
    const std::string verdict = body(context);
    detail::write_fully(report[1], verdict);
    ::_exit(0);
  }
  ::close(report[1]);
  ::close(control[1]);
  child_report out;
  // The listener arrives once the body installs a notifying filter; EOF (no listener) when
  // the child ends without one.
  const int listener = detail::receive_listener(control[0]);
  std::array<pollfd, 2> watched = {pollfd{report[0], POLLIN, 0}, pollfd{listener, POLLIN, 0}};
  const nfds_t count = listener >= 0 ? 2 : 1;
  for (;;) {
    if (::poll(watched.data(), count, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (count == 2 && (watched[1].revents & POLLIN) != 0) {
      detail::answer(listener, plan, out.calls);
      continue;  // answer every stopped call before reading on
    }
    if (watched[0].revents != 0) {
      std::array<char, 256> buffer{};
      const ssize_t n = ::read(report[0], buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;  // the child has exited (its end of the pipe is closed)
      }
      out.verdict.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
  if (listener >= 0) {
    ::close(listener);
  }
  ::close(report[0]);
  ::close(control[0]);
  while (::waitpid(pid, &out.status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace sockpair::testing::seccomp
