// Signals: a blocking call interrupted by a handler installed without SA_RESTART is restarted
// inside the library (the caller never sees EINTR), and writing to a dead peer never raises
// SIGPIPE, even with SIGPIPE's default disposition, which kills.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <ratio>
#include <string>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"

namespace sockpair::testing {
namespace {

std::atomic<int> signals_handled{0};

void count_signal(int) { signals_handled.fetch_add(1); }

// Installs `count_signal` for SIGUSR1 WITHOUT SA_RESTART, so a blocking system call it
// interrupts fails with EINTR; restores the previous disposition on destruction.
class interrupting_handler {
 public:
  interrupting_handler() {
    struct sigaction action {};
    action.sa_handler = count_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART
    EXPECT_EQ(::sigaction(SIGUSR1, &action, &previous_), 0);
    signals_handled = 0;
  }
  ~interrupting_handler() { ::sigaction(SIGUSR1, &previous_, nullptr); }
  interrupting_handler(const interrupting_handler&) = delete;
  interrupting_handler& operator=(const interrupting_handler&) = delete;

 private:
  struct sigaction previous_ {};
};

pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// The system call thread `tid` of this process is blocked in, from /proc: -1 if running.
long blocked_syscall(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  file >> first;
  if (first.empty() || first == "running") {
    return -1;
  }
  return std::stol(first);
}

void wait_until_handled(int count) {
  while (signals_handled.load() < count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Runs `body` on a thread whose kernel thread id is known, so that the test can see from
// /proc which system call it is blocked in, and signal it there.
class observed_thread {
 public:
  template <class Body>
  explicit observed_thread(Body body)
      : thread_([this, body]() mutable {
          tid_ = current_tid();
          body();
          finished_ = true;
        }) {}
  ~observed_thread() { join(); }
  observed_thread(const observed_thread&) = delete;
  observed_thread& operator=(const observed_thread&) = delete;

  // Waits until the thread sits in one of `syscalls` (true), or has finished (false). No
  // deadline: the test's timeout bounds it.
  bool wait_until_blocked_in(std::initializer_list<long> syscalls) {
    while (tid_.load() == 0) {
      std::this_thread::yield();
    }
    for (;;) {
      const long now = blocked_syscall(tid_);
      for (const long s : syscalls) {
        if (now == s) {
          return true;
        }
      }
      if (finished_) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void signal() { ASSERT_EQ(::pthread_kill(thread_.native_handle(), SIGUSR1), 0); }

  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

const std::initializer_list<long> receive_syscalls = {SYS_recvfrom, SYS_recvmsg};

TEST(Eintr, TheSetupReallyInterruptsARawRecv) {
  // The control experiment: without the library, the same handler and signal make recv(2)
  // fail with EINTR. Were SA_RESTART in effect, the tests below would prove nothing.
  interrupting_handler handler;
  auto pair = socket_pair<stream>::create().value();
  int raw_errno = 0;
  ssize_t raw_result = 0;
  observed_thread reader([&] {
    char byte = 0;
    raw_result = ::recv(pair.second.native_handle(), &byte, 1, 0);
    raw_errno = errno;
  });
  ASSERT_TRUE(reader.wait_until_blocked_in(receive_syscalls));
  reader.signal();
  reader.join();
  EXPECT_EQ(signals_handled.load(), 1);
  EXPECT_EQ(raw_result, -1);
  EXPECT_EQ(raw_errno, EINTR);
}

template <class Pair>
class EintrEveryType : public ::testing::Test {};
TYPED_TEST_SUITE(EintrEveryType, all_pair_types, pair_type_names);

TYPED_TEST(EintrEveryType, ABlockedReceiveIsRestartedAndReturnsTheData) {
  interrupting_handler handler;
  SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
  std::optional<result<std::size_t>> got;
  std::array<char, 16> buffer{};
  observed_thread reader([&] { got = pair.second.receive(buffer); });
  for (int i = 1; i <= 3; ++i) {  // interrupted three times while blocked
    ASSERT_TRUE(reader.wait_until_blocked_in(receive_syscalls))
        << "receive returned early: " << (got && !*got ? got->error().message() : "");
    reader.signal();
    wait_until_handled(i);
  }
  ASSERT_TRUE(pair.first.send(std::string_view("data")));
  reader.join();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got) << "the caller saw: " << got->error().message();
  EXPECT_EQ(got->value(), 4u);
  EXPECT_EQ(std::string_view(buffer.data(), 4), "data");
}

TEST(Eintr, AReceiveTimeoutTooLongForTheClockStillHoldsAfterASignal) {
  // 300 years of SO_RCVTIMEO is a finite timeout to the kernel (it counts in jiffies) but
  // more nanoseconds than steady_clock holds. After a signal the library resumes the wait
  // with the time left: that sum must saturate (no timeout), not wrap into the past and
  // give up with EAGAIN at once.
  interrupting_handler handler;
  auto pair = socket_pair<stream>::create().value();
  using years = std::chrono::duration<std::int64_t, std::ratio<31556952>>;
  ASSERT_TRUE(pair.second.set_receive_timeout(years(300)));
  std::optional<result<std::size_t>> got;
  std::array<char, 16> buffer{};
  observed_thread reader([&] { got = pair.second.receive(buffer); });
  ASSERT_TRUE(reader.wait_until_blocked_in(receive_syscalls));
  reader.signal();
  wait_until_handled(1);
  // Still waiting (in recv again, or in the poll between tries), not returned.
  ASSERT_TRUE(reader.wait_until_blocked_in({SYS_recvfrom, SYS_recvmsg, SYS_poll, SYS_ppoll}))
      << "receive returned early: " << (got && !*got ? got->error().message() : "");
  ASSERT_TRUE(pair.first.send(std::string_view("late")));
  reader.join();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got) << "the caller saw: " << got->error().message();
  EXPECT_EQ(got->value(), 4u);
}

TEST(Eintr, ABlockedReceiveMessageIsRestarted) {
  interrupting_handler handler;
  auto pair = socket_pair<seqpacket>::create().value();
  std::optional<result<message_info>> got;
  std::array<char, 16> buffer{};
  observed_thread reader([&] { got = pair.second.receive_message(buffer); });
  ASSERT_TRUE(reader.wait_until_blocked_in(receive_syscalls));
  reader.signal();
  wait_until_handled(1);
  ASSERT_TRUE(pair.first.send(std::string_view("msg")));
  reader.join();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got) << "the caller saw: " << got->error().message();
  EXPECT_EQ(got->value().size, 3u);
}

TEST(Eintr, ABlockedSendAllIsRestartedAndEveryByteArrivesOnce) {
  interrupting_handler handler;
  auto pair = socket_pair<stream>::create().value();
  // Fill the socket first, so the send blocks before moving a byte: interrupted then, send(2)
  // fails with EINTR (after some progress it would return a short count instead).
  const auto filler = pattern(20, std::size_t{64} * 1024);
  std::size_t prefilled = 0;
  ASSERT_TRUE(pair.first.set_nonblocking(true));
  for (;;) {
    auto sent = pair.first.send(filler);
    if (!sent) {
      ASSERT_EQ(sent.error(), std::errc::operation_would_block);
      break;
    }
    prefilled += sent.value();
  }
  ASSERT_TRUE(pair.first.set_nonblocking(false));

  const auto payload = pattern(21, std::size_t{1024} * 1024);
  std::optional<result<std::size_t>> sent;
  outgoing out(payload);
  observed_thread writer([&] { sent = pair.first.send_all(out); });
  ASSERT_TRUE(writer.wait_until_blocked_in({SYS_sendto, SYS_sendmsg}));
  writer.signal();
  wait_until_handled(1);
  // Restarted, it blocks again (the buffer is still full); given up, it would have returned.
  ASSERT_TRUE(writer.wait_until_blocked_in({SYS_sendto, SYS_sendmsg}))
      << "send_all returned: " << (sent && !*sent ? sent->error().message() : "");
  std::vector<std::byte> received(prefilled + payload.size());
  ASSERT_TRUE(pair.second.receive_exact(received));
  writer.join();
  ASSERT_TRUE(sent.has_value());
  ASSERT_TRUE(*sent) << "the caller saw: " << sent->error().message();
  EXPECT_EQ(out.done(), payload.size());
  EXPECT_EQ(checksum_of(std::span(received).subspan(prefilled)), checksum_of(payload));
}

TEST(Eintr, AWaitInterruptedBySignalsKeepsWaitingForTheData) {
  interrupting_handler handler;
  auto pair = socket_pair<stream>::create().value();
  std::optional<result<readiness>> outcome;
  observed_thread waiter([&] { outcome = pair.second.wait_readable(std::chrono::hours(1)); });
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(waiter.wait_until_blocked_in({SYS_poll, SYS_ppoll}));
    waiter.signal();
    wait_until_handled(i);
  }
  ASSERT_TRUE(pair.first.send(std::string_view("x")));
  waiter.join();
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(*outcome) << outcome->error().message();
  EXPECT_EQ(outcome->value(), readiness::ready);
}

TEST(Eintr, AnInterruptedTimedWaitStillEndsAsATimeout) {
  // The signal lands mid-wait; the wait resumes with the time left and then times out. Only
  // the outcome is asserted, never a duration.
  interrupting_handler handler;
  auto pair = socket_pair<stream>::create().value();
  std::optional<result<readiness>> outcome;
  observed_thread waiter(
      [&] { outcome = pair.second.wait_readable(std::chrono::milliseconds(500)); });
  // On a loaded machine the wait may end before it is ever seen in poll: then there is
  // nothing to interrupt, and the outcome must still be a timeout.
  if (waiter.wait_until_blocked_in({SYS_poll, SYS_ppoll})) {
    waiter.signal();
  }
  waiter.join();
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(*outcome) << outcome->error().message();
  EXPECT_EQ(outcome->value(), readiness::timed_out);
}

// ---- SIGPIPE ------------------------------------------------------------------------------

// In a forked child with SIGPIPE's default disposition (which terminates the process),
// writes to pairs whose peer is gone, through every sending call. A regression kills only
// the child; the parent reports it.
TEST(Sigpipe, WritingToADeadPeerFailsWithEpipeAndRaisesNothing) {
  auto child = child_process::start([]() -> std::string {
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t unblocked;
    sigemptyset(&unblocked);
    sigaddset(&unblocked, SIGPIPE);
    ::pthread_sigmask(SIG_UNBLOCK, &unblocked, nullptr);
    std::string failures;
    auto expect = [&](bool ok, const std::string& what) {
      if (!ok) {
        failures += what + "; ";
      }
    };
    const auto data = pattern(1, 100);
    const std::span<const std::byte> pieces[] = {data, data};
    {
      auto pair = socket_pair<stream>::create().value();
      static_cast<void>(pair.second.close());
      auto sent = pair.first.send(data);
      expect(!sent && sent.error() == std::errc::broken_pipe, "stream send");
      auto gathered = pair.first.send(pieces);
      expect(!gathered && gathered.error() == std::errc::broken_pipe, "stream gather send");
      outgoing out(data);
      auto all = pair.first.send_all(out);
      expect(!all && all.error() == std::errc::broken_pipe && out.done() == 0, "stream send_all");
      auto all_gathered = pair.first.send_all(pieces);
      expect(!all_gathered && all_gathered.error() == std::errc::broken_pipe,
             "stream gather send_all");
    }
    {
      auto pair = socket_pair<seqpacket>::create().value();
      static_cast<void>(pair.second.close());
      auto sent = pair.first.send(data);
      expect(!sent && sent.error() == std::errc::broken_pipe, "seqpacket send");
      auto gathered = pair.first.send(pieces);
      expect(!gathered && gathered.error() == std::errc::broken_pipe, "seqpacket gather send");
    }
    {
      // A dgram peer that shut down its reading side answers EPIPE (a closed one answers
      // ECONNREFUSED, which never comes with a signal).
      auto pair = socket_pair<dgram>::create().value();
      static_cast<void>(pair.second.shutdown(shutdown_how::read));
      auto sent = pair.first.send(data);
      expect(!sent && sent.error() == std::errc::broken_pipe, "dgram send");
    }
    {
      // This end's own writing side shut down: EPIPE too.
      auto pair = socket_pair<stream>::create().value();
      static_cast<void>(pair.first.shutdown(shutdown_how::write));
      auto sent = pair.first.send(data);
      expect(!sent && sent.error() == std::errc::broken_pipe, "send after own shutdown");
    }
    struct sigaction now {};
    ::sigaction(SIGPIPE, nullptr, &now);
    expect(now.sa_handler == SIG_DFL, "the library changed SIGPIPE's disposition");
    sigset_t pending;
    ::sigpending(&pending);
    expect(!sigismember(&pending, SIGPIPE), "a SIGPIPE is pending");
    return failures.empty() ? "ok" : failures;
  });
  EXPECT_EQ(child.wait(), "ok");
}

TEST(Sigpipe, TheSetupReallyKillsARawSendWithoutMsgNosignal) {
  // The control experiment: the same child setup, a raw send(2) without MSG_NOSIGNAL, dies.
  auto child = child_process::start([]() -> std::string {
    ::signal(SIGPIPE, SIG_DFL);
    auto pair = socket_pair<stream>::create().value();
    static_cast<void>(pair.second.close());
    static_cast<void>(::send(pair.first.native_handle(), "x", 1, 0));
    return "survived";
  });
  static_cast<void>(child.wait());
  ASSERT_TRUE(WIFSIGNALED(child.status()));
  EXPECT_EQ(WTERMSIG(child.status()), SIGPIPE);
}

}  // namespace
}  // namespace sockpair::testing
