// Waking an event loop from another thread with a non-blocking dgram pair.
//
// The loop polls the read end along with whatever else it watches. A producer thread queues
// work under a mutex, then sends a one-byte datagram to wake the loop. Wake-ups coalesce:
// - the loop drains every pending datagram before it takes the queue, so one pass handles
//   all the work queued before it woke, however many wake-ups that work sent;
// - a send that would block means wake-ups are already pending, so the producer drops it.
// Nothing is lost: a wake-up is only ever dropped while another one is still unread, and the
// loop takes the queue after draining.
//
// Exits 0 only if the loop handled every task exactly once.
#include <socketpair/socket_pair.hpp>

#include <poll.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

using wake_end = sockpair::socket<sockpair::dgram>;

/// Work handed from the producer to the loop.
class task_queue {
 public:
  void push(int task) {
    const std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(task);
  }
  void finish() {
    const std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  /// Everything queued so far, and whether the producer has finished.
  std::pair<std::vector<int>, bool> take() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return {std::exchange(tasks_, {}), finished_};
  }

 private:
  std::mutex mutex_;
  std::vector<int> tasks_;
  bool finished_ = false;
};

/// Sends one wake-up. False only on a real error: "would block" means one is pending.
bool wake(wake_end& waker, std::size_t& coalesced) {
  const std::array<std::byte, 1> signal{};
  auto sent = waker.send(signal);
  if (!sent && sent.error() == std::errc::operation_would_block) {
    ++coalesced;
    return true;
  }
  return static_cast<bool>(sent);
}

/// Reads every pending wake-up; returns how many there were.
sockpair::result<std::size_t> drain(wake_end& loop_end) {
  std::size_t count = 0;
  std::array<std::byte, 16> buffer{};
  for (;;) {
    auto got = loop_end.receive(buffer);
    if (!got) {
      if (got.error() == std::errc::operation_would_block) {
        return count;
      }
      return got.error();
    }
    ++count;
  }
}

}  // namespace

int main() {
  auto pair = sockpair::socket_pair<sockpair::dgram>::create({.nonblocking = true});
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  // Named ends rather than a structured binding: clang 14 cannot capture bindings in lambdas.
  // Checked above, so assume_value(): value() would check again (and could throw).
  sockpair::socket_pair<sockpair::dgram> ends = std::move(pair).assume_value();
  wake_end& loop_end = ends.first;
  wake_end& waker = ends.second;

  constexpr int task_count = 20'000;
  task_queue queue;
  std::size_t coalesced = 0;
  bool producer_ok = true;
  std::thread producer([&] {
    for (int task = 1; task <= task_count && producer_ok; ++task) {
      queue.push(task);
      producer_ok = wake(waker, coalesced);
    }
    queue.finish();
    producer_ok = producer_ok && wake(waker, coalesced);
  });

  // The loop. A real one would poll its other descriptors in the same array.
  std::int64_t sum = 0;
  int handled = 0;
  std::size_t wakeups_read = 0;
  std::size_t passes = 0;
  bool finished = false;
  while (!finished) {
    std::array<pollfd, 1> watched = {pollfd{loop_end.native_handle(), POLLIN, 0}};
    if (::poll(watched.data(), watched.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::perror("poll");
      break;
    }
    if ((watched[0].revents & POLLIN) == 0) {
      continue;
    }
    ++passes;
    auto drained = drain(loop_end);  // first drain, then take: see the comment at the top
    if (!drained) {
      std::fprintf(stderr, "receive: %s\n", drained.error().message().c_str());
      break;
    }
    wakeups_read += drained.assume_value();
    auto [tasks, done] = queue.take();
    for (const int task : tasks) {
      sum += task;
      ++handled;
    }
    finished = done;
  }
  producer.join();

  const std::int64_t expected_sum = std::int64_t{task_count} * (task_count + 1) / 2;
  const bool ok = producer_ok && handled == task_count && sum == expected_sum;
  std::printf(
      "%d tasks handled in %zu passes of the loop; %zu wake-ups read, %zu dropped as "
      "already pending\n",
      handled, passes, wakeups_read, coalesced);
  std::printf("%s\n", ok ? "every task handled exactly once" : "FAILED");
  return ok ? 0 : 1;
}
