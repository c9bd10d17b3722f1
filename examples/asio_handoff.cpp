// Create the pair here, run one end in Boost.Asio.
//
// The pair is made by this library (close-on-exec, typed), then one end is handed to an
// `asio::local::stream_protocol::socket` with `release()` + `assign()`: from then on Asio
// owns and closes that descriptor. The Asio side is an asynchronous echo server; the other
// end, still a `sockpair::socket`, is driven from a plain thread with blocking calls.
//
// Exits 0 only if every echo came back unchanged and Asio saw the end of the stream.
#include <socketpair/socket_pair.hpp>

#include <unistd.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

/// Echoes everything it reads until the peer shuts down its writing side.
class echo_session {
 public:
  explicit echo_session(stream_protocol::socket sock) : socket_(std::move(sock)) {}

  void start() { read(); }
  [[nodiscard]] bool saw_end_of_stream() const { return saw_eof_; }
  [[nodiscard]] std::size_t bytes_echoed() const { return echoed_; }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [this](boost::system::error_code ec,
                                                          std::size_t n) {
      if (ec == asio::error::eof) {
        saw_eof_ = true;  // the client is done; closing our end tells it we are too
        socket_.close();
        return;
      }
      if (ec) {
        std::fprintf(stderr, "asio read: %s\n", ec.message().c_str());
        socket_.close();
        return;
      }
      asio::async_write(socket_, asio::buffer(buffer_, n),
                        [this](boost::system::error_code write_error, std::size_t written) {
                          if (write_error) {
                            std::fprintf(stderr, "asio write: %s\n", write_error.message().c_str());
                            socket_.close();
                            return;
                          }
                          echoed_ += written;
                          read();
                        });
    });
  }

  stream_protocol::socket socket_;
  std::array<char, 4096> buffer_{};
  bool saw_eof_ = false;
  std::size_t echoed_ = 0;
};

/// The blocking side: sends each message and expects it back, then ends the stream.
bool run_client(sockpair::socket<sockpair::stream>& sock) {
  const std::array<std::string, 3> messages = {"hello, asio", std::string(100'000, 'z'), "bye"};
  for (const std::string& message : messages) {
    std::string echo(message.size(), '\0');
    auto sent = sock.send_all(message);
    auto got = sent ? sock.receive_exact(echo) : sockpair::result<std::size_t>(sent.error());
    if (!got || echo != message) {
      std::fprintf(stderr, "client: the %zu-byte echo did not come back (%s)\n", message.size(),
                   got ? "different bytes" : got.error().message().c_str());
      return false;
    }
    std::printf("client: %zu bytes echoed by asio\n", message.size());
  }
  if (!sock.shutdown(sockpair::shutdown_how::write)) {
    return false;
  }
  std::array<char, 1> rest{};
  auto end = sock.receive(rest);  // 0: Asio closed its end after our shutdown
  return end && end.assume_value() == 0;
}

}  // namespace

// Asio reports its own failures (io_context's constructor, run(), close()) by throwing; one
// that escapes ends the example with a failure, as it should.
int main() {  // NOLINT(bugprone-exception-escape): Asio's exceptions, see above
  auto pair = sockpair::socket_pair<sockpair::stream>::create();
  if (!pair) {
    std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str());
    return 1;
  }
  // Checked above, so assume_value(): value() would check again (and could throw).
  auto [client, server] = std::move(pair).assume_value();

  asio::io_context io;
  stream_protocol::socket asio_socket(io);
  const int fd = server.release();  // ownership leaves the library here...
  boost::system::error_code ec;
  asio_socket.assign(stream_protocol(), fd, ec);  // ...and arrives in Asio here
  if (ec) {
    ::close(fd);  // assign failed: nobody owns it but us
    std::fprintf(stderr, "assign: %s\n", ec.message().c_str());
    return 1;
  }

  echo_session session(std::move(asio_socket));
  session.start();
  bool client_ok = false;
  // (The end goes in as an argument: clang 14 cannot capture a structured binding.)
  std::thread client_thread(
      [&client_ok](sockpair::socket<sockpair::stream>& sock) { client_ok = run_client(sock); },
      std::ref(client));
  io.run();  // returns when the session has nothing left to do
  client_thread.join();

  const bool ok = client_ok && session.saw_end_of_stream();
  std::printf("asio echoed %zu bytes; %s\n", session.bytes_echoed(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
