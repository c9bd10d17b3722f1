// Starts a worker program with posix_spawn(3) and talks to it over a seqpacket pair.
//
// Both ends are created close-on-exec (the default). Just before spawning, close-on-exec is
// cleared on the worker's end only, and its number goes on the worker's command line. The
// parent's end stays close-on-exec, so the worker does not inherit it: the worker checks
// that, too. After the spawn the parent closes its copy of the worker's end, so that the
// worker's exit is seen as the end of the stream.
//
// Usage: spawn_worker PATH_TO_spawn_worker_child. Exits 0 only if every reply was right and
// the worker exited 0.
#include <socketpair/socket_pair.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH_TO_spawn_worker_child\n", argv[0]);
    return 2;
  }
  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [parent, worker_end] = std::move(pair).value();

  // The one descriptor the worker must inherit. (In a program with other threads that
  // fork and exec, do this as late as possible: until the spawn, they would inherit it too.
  // posix_spawn_file_actions_adddup2 onto a fixed number avoids even that window.)
  if (auto inherit = worker_end.set_cloexec(false); !inherit) {
    std::fprintf(stderr, "set_cloexec: %s\n", inherit.error().message().c_str());
    return 1;
  }
  std::string path = argv[1];
  std::string worker_fd = std::to_string(worker_end.native_handle());
  std::string parent_fd = std::to_string(parent.native_handle());  // must NOT be inherited
  std::array<char*, 4> worker_argv = {path.data(), worker_fd.data(), parent_fd.data(), nullptr};
  pid_t pid = -1;
  if (const int err =
          ::posix_spawn(&pid, path.c_str(), nullptr, nullptr, worker_argv.data(), ::environ);
      err != 0) {
    std::fprintf(stderr, "posix_spawn %s: %s\n", path.c_str(),
                 sockpair::errno_code(err).message().c_str());
    return 1;
  }
  static_cast<void>(worker_end.close());  // the worker has its own copy now

  int failures = 0;
  for (int i = 1; i <= 3; ++i) {
    const std::string request = "ping " + std::to_string(i);
    const std::string expected = "pong " + std::to_string(i);
    std::array<char, 64> reply{};
    if (auto sent = parent.send(request); !sent) {
      std::fprintf(stderr, "send: %s\n", sent.error().message().c_str());
      ++failures;
      break;
    }
    auto got = parent.receive(reply);  // one whole message
    if (!got || std::string(reply.data(), got.value()) != expected) {
      std::fprintf(stderr, "wrong reply to \"%s\"\n", request.c_str());
      ++failures;
      break;
    }
    std::printf("%s -> %s\n", request.c_str(), expected.c_str());
  }

  // Done: the worker sees the end of the stream and exits.
  static_cast<void>(parent.shutdown(sockpair::shutdown_how::write));
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "the worker did not exit cleanly (status %d)\n", status);
    ++failures;
  }
  std::printf("%s\n", failures == 0 ? "worker answered every request" : "FAILED");
  return failures == 0 ? 0 : 1;
}
