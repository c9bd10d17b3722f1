// A privilege-separated server as C++20 coroutines over <socketpair/asio.hpp>.
//
// The parent is the privileged broker: it made a secret file only it may read (mode 0600). It
// forks a worker, which drops its privileges (to nobody, when started as root) and from then on
// cannot open the file itself: it asks the broker, over a seqpacket pair, and receives an open
// descriptor. Both sides are coroutines on their own io_context (`co_spawn`, `use_awaitable`).
//
// Every request carries a deadline: a steady_timer that, when it fires, cancels the pending
// `async_receive_with_fds` through its cancellation slot. A cancelled receive consumed nothing,
// so a reply that arrives after its deadline is still whole on the socket: the worker reads it
// later, sees a request id it gave up on, and drops it, descriptor included (owned, so closed).
// The broker holds one request ("hold") until the next one arrives, so that deadline always
// passes, however slow the machine: no timing decides the outcome.
//
// Exits 0 only if the worker read the secret through each descriptor it was given, saw the
// held request time out and its late reply dropped, got ENOENT for a missing file, and the
// broker's descriptor count is the same before and after.
#include <socketpair/ancillary.hpp>
#include <socketpair/asio.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using channel = sockpair::asio::async_socket<sockpair::seqpacket>;

constexpr std::string_view secret = "the broker's secret";

// ---- Messages: a request is {id, path}; a reply is {id, errno} and, on success, one descriptor.

struct reply {
  std::uint32_t id = 0;
  std::int32_t error = 0;
};

std::string encode_request(std::uint32_t id, std::string_view path) {
  std::string out(sizeof id, '\0');
  std::memcpy(out.data(), &id, sizeof id);
  out += path;
  return out;
}

int count_open_descriptors() {
  int count = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    count += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
  }
  return count;
}

// ---- The broker (privileged) --------------------------------------------------------------------

asio::awaitable<void> broker(channel& end, std::string path, bool& ok) {
  std::array<std::byte, 512> request{};
  std::optional<std::uint32_t> held;  // the id of a "hold" request not yet answered
  auto answer = [&](std::uint32_t id, std::string_view wanted) -> asio::awaitable<bool> {
    // Only the one file this broker serves; anything else is refused, as a real policy would.
    const sockpair::unique_fd file(wanted == "secret" ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC)
                                                      : -1);
    const reply r{id, file ? 0 : ENOENT};
    std::array<std::byte, sizeof r> bytes{};
    std::memcpy(bytes.data(), &r, sizeof r);
    std::array<int, 1> fds{file.get()};
    auto [ec, sent] = co_await end.async_send_with_fds(
        bytes, std::span<const int>(fds.data(), file ? 1 : 0), asio::use_awaitable);
    co_return !ec && sent == bytes.size();
  };
  for (;;) {
    auto [ec, info] = co_await end.async_receive_message(request, asio::use_awaitable);
    if (ec || info.truncated() || (!info.end_of_stream && info.size < sizeof(std::uint32_t))) {
      std::fprintf(stderr, "broker: bad request: %s\n", ec.message().c_str());
      ok = false;
      co_return;
    }
    if (info.end_of_stream) {
      co_return;  // the worker is done
    }
    std::uint32_t id = 0;
    std::memcpy(&id, request.data(), sizeof id);
    const std::string_view wanted(reinterpret_cast<const char*>(request.data()) + sizeof id,
                                  info.size - sizeof id);
    if (wanted == "hold") {
      held = id;  // answered when the next request comes, after the worker's deadline
      continue;
    }
    if (held && !co_await answer(*std::exchange(held, std::nullopt), "secret")) {
      ok = false;
      co_return;
    }
    if (!co_await answer(id, wanted)) {
      ok = false;
      co_return;
    }
  }
}

// ---- The worker (unprivileged) ------------------------------------------------------------------

class worker {
 public:
  explicit worker(channel& end) : end_(end) {}

  /// Asks for `path` and waits until `deadline` for the reply to this request: the descriptor,
  /// or the broker's errno, or std::errc::timed_out. Stale replies (to requests whose deadline
  /// passed) are dropped on the way, their descriptors closed.
  asio::awaitable<std::pair<std::error_code, sockpair::unique_fd>> open(
      std::string_view path, std::chrono::steady_clock::duration deadline) {
    const std::uint32_t id = ++last_id_;
    const std::string request = encode_request(id, path);
    auto [send_error, sent] = co_await end_.async_send(
        std::as_bytes(std::span(request.data(), request.size())), asio::use_awaitable);
    if (send_error || sent != request.size()) {
      co_return std::pair{send_error ? send_error : std::make_error_code(std::errc::io_error),
                          sockpair::unique_fd()};
    }
    // The deadline: the timer's handler cancels the pending receive. Both live in shared state,
    // since the handler may run after this coroutine has returned.
    auto signal = std::make_shared<asio::cancellation_signal>();
    auto timer = std::make_shared<asio::steady_timer>(end_.get_executor(), deadline);
    timer->async_wait([signal, timer](boost::system::error_code ec) {
      if (!ec) {
        signal->emit(asio::cancellation_type::terminal);
      }
    });
    std::pair<std::error_code, sockpair::unique_fd> out;
    for (;;) {
      std::array<std::byte, sizeof(reply)> bytes{};
      auto [ec, got] = co_await end_.async_receive_with_fds<1>(
          bytes, asio::bind_cancellation_slot(signal->slot(), asio::use_awaitable));
      if (ec == std::errc::operation_canceled) {
        out.first = std::make_error_code(std::errc::timed_out);
        break;
      }
      if (ec || got.size != bytes.size()) {
        out.first = ec ? ec : std::make_error_code(std::errc::bad_message);
        break;
      }
      reply r;
      std::memcpy(&r, bytes.data(), sizeof r);
      if (r.id != id) {
        ++stale_replies_;  // a reply to a request that timed out: `got` closes its descriptor
        continue;
      }
      if (r.error != 0 || got.fds.size() != 1) {
        out.first = std::error_code(r.error != 0 ? r.error : EPROTO, std::generic_category());
        break;
      }
      out.second = std::move(got.fds[0]);
      break;
    }
    timer->cancel();
    co_return out;
  }

  [[nodiscard]] int stale_replies() const { return stale_replies_; }

 private:
  channel& end_;
  std::uint32_t last_id_ = 0;
  int stale_replies_ = 0;
};

/// Reads what `fd` holds, from its start.
std::string read_all(const sockpair::unique_fd& fd) {
  std::string text(256, '\0');
  const ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

asio::awaitable<void> work(channel& end, bool& ok) {
  worker w(end);
  auto [error1, file1] = co_await w.open("secret", 30s);
  const bool first = !error1 && read_all(file1) == secret;
  auto [error2, file2] = co_await w.open("hold", 50ms);
  const bool timed_out = error2 == std::errc::timed_out && !file2;
  auto [error3, file3] = co_await w.open("secret", 30s);
  const bool after = !error3 && read_all(file3) == secret && w.stale_replies() == 1;
  auto [error4, file4] = co_await w.open("missing", 30s);
  const bool refused = error4 == std::errc::no_such_file_or_directory && !file4;
  std::printf(
      "worker: secret %s; held request %s; %d late reply dropped; next request %s; "
      "missing file: %s\n",
      first ? "read through the descriptor" : "NOT read",
      timed_out ? "timed out" : "did NOT time out", w.stale_replies(),
      after ? "served" : "NOT served", error4.message().c_str());
  ok = first && timed_out && after && refused &&
       end.next_layer().shutdown(sockpair::shutdown_how::write).has_value();
}

/// Where Asio does its waiting: io_uring when built with --config=uring (then a ring must be
/// open), epoll otherwise. False if io_uring was configured but no ring is open.
bool report_backend() {
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
  for (int fd = 0; fd < 4096; ++fd) {
    std::array<char, 64> target{};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
    if (n > 0 &&
        std::string_view(target.data(), static_cast<std::size_t>(n)) == "anon_inode:[io_uring]") {
      std::printf("asio backend: io_uring\n");
      return true;
    }
  }
  std::fprintf(stderr, "asio backend: io_uring configured, but no ring is open\n");
  return false;
#else
  std::printf("asio backend: epoll\n");
  return true;
#endif
}

/// Drops to nobody when root (the point of the exercise). Where that is refused (a user
/// namespace that maps no nobody, as Bazel's sandbox) or there is nothing to drop, it says so
/// and the worker goes on as it is: the exchange is the same.
void drop_privileges() {
  if (::geteuid() != 0) {
    return;
  }
  constexpr uid_t nobody = 65534;
  if (::setgroups(0, nullptr) != 0 || ::setresgid(nobody, nobody, nobody) != 0 ||
      ::setresuid(nobody, nobody, nobody) != 0) {
    std::printf("worker: dropping privileges refused here (%s); going on as uid %d\n",
                std::error_code(errno, std::generic_category()).message().c_str(),
                static_cast<int>(::getuid()));
  }
}

int run_worker(sockpair::socket<sockpair::seqpacket> end, const std::string& path) {
  drop_privileges();
  const int direct = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::printf("worker (uid %d): opening the file itself: %s\n", static_cast<int>(::getuid()),
              direct < 0 ? std::error_code(errno, std::generic_category()).message().c_str()
                         : "allowed (privileges not dropped)");
  if (direct >= 0) {
    ::close(direct);
  }
  asio::io_context io(1);
  auto bound = channel::create(io, std::move(end));
  if (!bound) {
    return 1;
  }
  bool ok = false;
  asio::co_spawn(io, work(bound.value(), ok), asio::detached);
  io.run();
  return ok && report_backend() ? 0 : 1;
}

}  // namespace

// Asio throws only where it cannot report otherwise (allocation, co_spawn's machinery): the
// example may die then.
int main() {  // NOLINT(bugprone-exception-escape)
  const int descriptors_before = count_open_descriptors();
  // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread exists
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/privsep-secret-XXXXXX";
  const sockpair::unique_fd file(::mkstemp(path.data()));  // mode 0600, owned by the broker
  if (!file ||
      ::write(file.get(), secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
    std::perror("broker: secret file");
    return 1;
  }
  bool ok = true;
  {
    auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
    if (!pair) {
      return 1;
    }
    auto [broker_end, worker_end] = std::move(pair).assume_value();
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      static_cast<void>(broker_end.close());
      const int code = run_worker(std::move(worker_end), path);
      std::fflush(nullptr);
      ::_exit(code);
    }
    static_cast<void>(worker_end.close());
    {
      asio::io_context io(1);
      auto bound = channel::create(io, std::move(broker_end));
      if (!bound) {
        return 1;
      }
      asio::co_spawn(io, broker(bound.value(), path, ok), asio::detached);
      io.run();
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ::unlink(path.c_str());
  const int descriptors_after = count_open_descriptors() - 1;  // `file`, still open here
  if (descriptors_after != descriptors_before) {
    std::fprintf(stderr, "broker: %d descriptors before, %d after\n", descriptors_before,
                 descriptors_after);
    ok = false;
  }
  std::printf("%s\n", ok ? "privilege separation worked" : "FAILED");
  return ok ? 0 : 1;
}
