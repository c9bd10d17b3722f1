// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// shm_channel (<socketpair/shm_channel.hpp>) behind the contenders' interface of
// contenders.hpp (`make()`, `send_payload`, `receive_payload`, `end_writing`), so the latency
// and transfer cases run it through the very protocol they run the sockets through.
//
//   shm_channel_contender<Spin, Reader>
//     Spin    how long a waiting call spins before it sleeps on the socket (microseconds)
//     Reader  shm_reader::copy: `receive` copies each message out (two copies in all);
//             shm_reader::view: the message is checked in place through `receive_view` and
//             only its 8-byte stamp is copied (one copy in all: the writer's)
#pragma once

#include <socketpair/shm_channel.hpp>
#include <socketpair/socket_pair.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "benchmarks/contenders.hpp"
#include "benchmarks/support.hpp"

namespace bench {

enum class shm_reader { copy, view };

template <shm_reader Reader>
class shm_end {
 public:
  explicit shm_end(sockpair::shm_channel channel) : channel_(std::move(channel)) {}

  bool send_payload(const_bytes data) { return static_cast<bool>(channel_.send(data)); }

  int receive_payload(bytes buffer) {
    if constexpr (Reader == shm_reader::copy) {
      auto got = channel_.receive(buffer);
      if (!got) {
        fail("shm_channel::receive");
      }
      if (!got.value()) {
        return 0;
      }
      if (*got.value() != buffer.size()) {
        fail("shm_channel: a message of the wrong size");
      }
    } else {
      auto got = channel_.receive_view();
      if (!got) {
        fail("shm_channel::receive_view");
      }
      if (!got.value()) {
        return 0;
      }
      const auto message = *got.value();
      if (message.size() != buffer.size()) {
        fail("shm_channel: a message of the wrong size");
      }
      // The stamp the harness checks: the message itself stays where it is.
      std::memcpy(buffer.data(), message.data(), std::min<std::size_t>(8, message.size()));
      channel_.release();
    }
    return 1;
  }

  // Closing the channel is the end of the stream for the peer.
  void end_writing() { channel_ = sockpair::shm_channel(); }

 private:
  sockpair::shm_channel channel_;
};

template <int SpinMicros, shm_reader Reader = shm_reader::copy>
struct shm_channel_contender {
  static std::string name() {
    return std::string("shm_") + (SpinMicros > 0 ? "spin" : "nospin") +
           (Reader == shm_reader::view ? "_view" : "");
  }

  // `buffer_size` (the kernel buffers of the socket contenders) is the ring size here,
  // 1 MiB when 0.
  static std::pair<shm_end<Reader>, shm_end<Reader>> make(channel_options options = {}) {
    auto pair = sockpair::socket_pair<sockpair::stream>::create();
    if (!pair) {
      fail("socket_pair::create");
    }
    const sockpair::shm_options shm{.ring_size = options.buffer_size > 0
                                                     ? static_cast<std::size_t>(options.buffer_size)
                                                     : std::size_t{1} << 20,
                                    .spin = std::chrono::microseconds(SpinMicros)};
    auto a = sockpair::shm_channel::create(std::move(pair.value().first), shm);
    if (!a) {
      fail("shm_channel::create");
    }
    auto b = sockpair::shm_channel::accept(std::move(pair.value().second), shm);
    if (!b) {
      fail("shm_channel::accept");
    }
    return {shm_end<Reader>(std::move(a).value()), shm_end<Reader>(std::move(b).value())};
  }
};

}  // namespace bench
