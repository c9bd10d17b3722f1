// A parent and a forked child exchange messages through shared memory (shm_channel): the
// socket pair only carries the memfd, the wake-ups and, at the end, the news that the child's
// side is gone. The parent fills one message in place (reserve/commit), copies another in
// (send), reads each echo in place (receive_view), then closes its end; the child sees the end
// of the stream and exits.
#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// The child: echoes every message until the parent closes its end.
int echo(sockpair::socket<sockpair::stream> end) {
  auto channel = sockpair::shm_channel::accept(std::move(end), {}, 10s);
  if (!channel) {
    std::fprintf(stderr, "child: accept: %s\n", channel.error().message().c_str());
    return 1;
  }
  std::vector<std::byte> buffer(channel.value().max_message_size());
  for (;;) {
    auto got = channel.value().receive(buffer, 10s);  // copies: the peer cannot change it now
    if (!got) {
      std::fprintf(stderr, "child: receive: %s\n", got.error().message().c_str());
      return 1;
    }
    if (!got.value()) {
      return 0;  // the parent closed its end and everything it sent was read
    }
    if (!channel.value().send(std::span(buffer).first(*got.value()), 10s)) {
      return 1;
    }
  }
}

bool expect_echo(sockpair::shm_channel& channel, std::string_view want) {
  auto got = channel.receive_view(10s);  // in place, until release()
  if (!got || !got.value()) {
    std::fprintf(stderr, "parent: no echo: %s\n",
                 got ? "end of stream" : got.error().message().c_str());
    return false;
  }
  const auto echo = *got.value();
  const bool same =
      echo.size() == want.size() && std::memcmp(echo.data(), want.data(), want.size()) == 0;
  std::printf("parent got %zu bytes back: %.*s\n", echo.size(), static_cast<int>(echo.size()),
              reinterpret_cast<const char*>(echo.data()));
  channel.release();
  return same;
}

}  // namespace

// std::vector and message() may throw bad_alloc; that would end the program, which is all an
// example should do about it.
int main() {  // NOLINT(bugprone-exception-escape): see above
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  auto [parent_end, child_end] = std::move(pair).value();
  const pid_t pid = ::fork();
  if (pid == 0) {
    static_cast<void>(parent_end.close());
    ::_exit(echo(std::move(child_end)));
  }
  static_cast<void>(child_end.close());
  auto channel = sockpair::shm_channel::create(std::move(parent_end));
  if (!channel) {
    std::fprintf(stderr, "parent: create: %s\n", channel.error().message().c_str());
    return 1;
  }
  sockpair::shm_channel& shm = channel.value();

  // Zero-copy: reserve room in the ring, fill it, commit what was written.
  constexpr std::string_view first = "filled in place";
  auto room = shm.reserve(64, 10s);
  bool ok = static_cast<bool>(room);
  if (ok) {
    std::memcpy(room.value().data(), first.data(), first.size());
    ok = static_cast<bool>(shm.commit(first.size())) && expect_echo(shm, first);
  }
  // Copying: send a buffer as it is.
  constexpr std::string_view second = "copied in";
  ok = ok && shm.send(std::as_bytes(std::span(second.data(), second.size())), 10s) &&
       expect_echo(shm, second);

  shm = sockpair::shm_channel();  // closes: the child reads the end of the stream
  int status = 0;
  ::waitpid(pid, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
