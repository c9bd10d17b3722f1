// docs/framing.md's example: a request/reply protocol on a framed stream pair. The forked
// child answers each request with its bytes reversed; the parent checks every reply. Exits 0
// only when every reply was right and the child ended cleanly.
#include <socketpair/framing.hpp>
#include <socketpair/socket_pair.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace sp = sockpair;

// Server: answers each request with its bytes reversed, until the client ends the stream.
int serve(sp::socket<sp::stream>& s) {
  sp::frame_reader in(s);
  sp::frame_writer out(s);
  std::vector<std::byte> reply;
  for (auto request = in.read(); request; request = in.read()) {
    if (!request.value()) {
      return 0;  // the client ended the stream between two frames
    }
    reply.assign(request.value()->rbegin(), request.value()->rend());
    if (!out.write(reply) || !out.flush()) {
      return 1;
    }
  }
  return 1;  // a read failed
}

// Client: one request, one reply, which must be the request reversed.
bool ask(auto& out, auto& in, std::span<const std::byte> request) {
  if (!out.write(request) || !out.flush()) {
    return false;
  }
  auto reply = in.read();
  if (!reply || !reply.value()) {
    return false;
  }
  const auto got = *reply.value();
  return std::equal(got.begin(), got.end(), request.rbegin(), request.rend());
}

int main() {
  auto pair = sp::socket_pair<sp::stream>::create();
  if (!pair) {
    return 1;
  }
  auto [client, server] = std::move(pair).assume_value();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(client.close() ? serve(server) : 1);
  }
  static_cast<void>(server.close());
  sp::frame_writer out(client);
  sp::frame_reader in(client);
  for (const std::string_view text : {"ping", "", "hello, frames"}) {
    if (!ask(out, in, std::as_bytes(std::span(text)))) {
      return 1;
    }
    std::printf("\"%.*s\" answered\n", static_cast<int>(text.size()), text.data());
  }
  static_cast<void>(client.shutdown(sp::shutdown_how::write));  // the server's read() ends
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
