// Round trips for every pair type, across threads and across processes: 1 byte, 64 KiB and
// 16 MiB of seeded data, checked with a checksum at the far end and confirmed back.
#include <socketpair/socketpair.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/io/io_support.hpp"
#include "tests/support/environment.hpp"

namespace sockpair::testing {
namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
// Payload sizes; under emulation (tools/vm sets SOCKPAIR_SLOW_MACHINE) the largest is 1 MiB.
// TIPC's dgram and rdm have no flow control (a receiver that falls behind loses messages):
// their largest is 256 KiB, which the receiver's buffer holds whole.
template <class Pair>
std::array<std::size_t, 3> payload_sizes() {
  if constexpr (is_unpaced<Pair>) {
    return {1, 64 * KiB, 256 * KiB};
  }
  return {1, 64 * KiB, slow_machine() ? 1 * MiB : 16 * MiB};
}

// The largest message each round trip sends. AF_UNIX refuses a message longer than the
// sender's SO_SNDBUF minus 32 bytes (EMSGSIZE); the default buffer (net.core.wmem_default,
// 208 KiB) takes 64 KiB messages but not 256 KiB ones. So the sender asks for a 1 MiB
// SO_SNDBUF (Linux doubles it, capped at net.core.wmem_max) and uses 256 KiB messages when the
// buffer it got allows them, 64 KiB otherwise. TIPC caps a message at 66,000 bytes: 64 KiB.
template <class Socket>
std::size_t prepare_message_size(Socket& sender) {
  using type = typename Socket::type;
  if constexpr (!type::message_oriented) {
    return 0;  // streams have no messages
  } else if constexpr (std::same_as<typename Socket::domain, tipc_domain>) {
    return 64 * KiB;
  } else {
    EXPECT_TRUE(sender.set_send_buffer_size(1 * MiB));
    const auto buffer = sender.send_buffer_size();
    EXPECT_TRUE(buffer);
    const std::size_t fits = buffer ? buffer.value() - 32 : 64 * KiB;
    return std::max(64 * KiB, std::min(256 * KiB, fits));
  }
}

// Sends `total` bytes of payload `seed`: a stream in one send_all per MiB, a message socket
// as messages of `message_size` bytes (the last one shorter).
template <class Socket>
std::string send_payload(Socket& s, std::uint64_t seed, std::size_t total,
                         std::size_t message_size) {
  const std::size_t chunk = Socket::type::message_oriented ? message_size : 1 * MiB;
  for (std::size_t offset = 0; offset < total;) {
    const std::size_t n = std::min(chunk, total - offset);
    const auto bytes = pattern(seed, n, offset);
    if constexpr (Socket::type::message_oriented) {
      auto sent = s.send(bytes);
      if (!sent) {
        return "send: " + sent.error().message();
      }
      if (sent.value() != n) {
        return "a message went out partly: " + std::to_string(sent.value());
      }
    } else {
      auto sent = s.send_all(bytes);
      if (!sent) {
        return "send_all: " + sent.error().message();
      }
    }
    offset += n;
  }
  return "ok";
}

// Receives `total` bytes and checksums them; for messages, checks every message's size.
template <class Socket>
std::string receive_payload(Socket& s, std::size_t total, std::size_t message_size, checksum& sum) {
  std::vector<std::byte> buffer(Socket::type::message_oriented ? message_size : 64 * KiB);
  while (sum.bytes < total) {
    if constexpr (Socket::type::message_oriented) {
      auto got = s.receive_message(buffer);
      if (!got) {
        return "receive_message: " + got.error().message();
      }
      const std::size_t expected = std::min(message_size, total - sum.bytes);
      if (got.value().end_of_stream || got.value().truncated() || got.value().size != expected) {
        return "message " + std::to_string(sum.bytes / message_size) + " has size " +
               std::to_string(got.value().size) + ", expected " + std::to_string(expected);
      }
      sum.add(std::span(buffer).first(got.value().stored));
    } else {
      auto got = s.receive(std::span(buffer).first(std::min(buffer.size(), total - sum.bytes)));
      if (!got) {
        return "receive: " + got.error().message();
      }
      if (got.value() == 0) {
        return "EOF after " + std::to_string(sum.bytes) + " bytes";
      }
      sum.add(std::span(buffer).first(got.value()));
    }
  }
  return "ok";
}

// The receiver's confirmation: byte count and checksum, 16 bytes.
template <class Socket>
std::string send_summary(Socket& s, const checksum& sum) {
  std::array<std::uint64_t, 2> words{sum.bytes, sum.value};
  auto sent = s.send(std::as_bytes(std::span(words)));
  return sent && sent.value() == sizeof words ? "ok" : "summary not sent";
}

template <class Socket>
std::optional<checksum> receive_summary(Socket& s) {
  std::array<std::uint64_t, 2> words{};
  const auto bytes = std::as_writable_bytes(std::span(words));
  bool ok = false;
  if constexpr (Socket::type::message_oriented) {
    auto got = s.receive(bytes);
    ok = got && got.value() == bytes.size();
  } else {
    ok = static_cast<bool>(s.receive_exact(bytes));
  }
  if (!ok) {
    return std::nullopt;
  }
  return checksum{words[1], words[0]};
}

checksum expected_checksum(std::uint64_t seed, std::size_t total) {
  checksum sum;
  for (std::size_t offset = 0; offset < total; offset += 1 * MiB) {
    sum.add(pattern(seed, std::min(1 * MiB, total - offset), offset));
  }
  return sum;
}

template <class Pair>
class RoundTrip : public ::testing::Test {};
TYPED_TEST_SUITE(RoundTrip, all_pair_types, pair_type_names);

TYPED_TEST(RoundTrip, AcrossThreadsEveryByteArrivesAndIsConfirmed) {
  for (const std::size_t total : payload_sizes<TypeParam>()) {
    SCOPED_TRACE("payload of " + std::to_string(total) + " bytes");
    SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
    auto& a = pair.first;
    auto& b = pair.second;
    const std::uint64_t seed = 0x5eed0000 + total;
    const std::size_t message_size = prepare_message_size(a);

    std::string sender_verdict;
    std::optional<checksum> confirmed;
    std::thread sender([&] {
      sender_verdict = send_payload(a, seed, total, message_size);
      confirmed = receive_summary(a);
    });
    checksum received;
    const std::string receiver_verdict = receive_payload(b, total, message_size, received);
    const std::string reply = send_summary(b, received);
    sender.join();

    const checksum expected = expected_checksum(seed, total);
    EXPECT_EQ(sender_verdict, "ok");
    EXPECT_EQ(receiver_verdict, "ok");
    EXPECT_EQ(reply, "ok");
    EXPECT_EQ(received.bytes, total);
    EXPECT_EQ(received.value, expected.value) << "the data arrived altered";
    ASSERT_TRUE(confirmed.has_value()) << "no confirmation came back";
    EXPECT_EQ(*confirmed, expected);
  }
}

TYPED_TEST(RoundTrip, AcrossProcessesParentToChildAndBack) {
  for (const std::size_t total : payload_sizes<TypeParam>()) {
    SCOPED_TRACE("payload of " + std::to_string(total) + " bytes");
    SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
    auto& parent = pair.first;
    auto& child_end = pair.second;
    const std::uint64_t seed = 0xc41d0000 + total;
    const std::size_t message_size = prepare_message_size(parent);

    auto child = child_process::start([&]() -> std::string {
      static_cast<void>(parent.close());
      checksum received;
      std::string verdict = receive_payload(child_end, total, message_size, received);
      if (verdict != "ok") {
        return verdict;
      }
      return send_summary(child_end, received);
    });
    ASSERT_TRUE(child_end.close());

    EXPECT_EQ(send_payload(parent, seed, total, message_size), "ok");
    const auto confirmed = receive_summary(parent);
    EXPECT_EQ(child.wait(), "ok");
    ASSERT_TRUE(confirmed.has_value()) << "no confirmation came back";
    EXPECT_EQ(*confirmed, expected_checksum(seed, total));
  }
}

TYPED_TEST(RoundTrip, AcrossProcessesChildToParentAndBack) {
  for (const std::size_t total : payload_sizes<TypeParam>()) {
    SCOPED_TRACE("payload of " + std::to_string(total) + " bytes");
    SOCKPAIR_CREATE_OR_SKIP(pair, TypeParam);
    auto& parent = pair.first;
    auto& child_end = pair.second;
    const std::uint64_t seed = 0xbac40000 + total;
    const std::size_t message_size = prepare_message_size(child_end);
    const checksum expected = expected_checksum(seed, total);

    auto child = child_process::start([&]() -> std::string {
      static_cast<void>(parent.close());
      std::string verdict = send_payload(child_end, seed, total, message_size);
      if (verdict != "ok") {
        return verdict;
      }
      const auto confirmed = receive_summary(child_end);
      if (!confirmed) {
        return "no confirmation came back";
      }
      return *confirmed == expected ? "ok" : "the parent confirmed a different checksum";
    });
    ASSERT_TRUE(child_end.close());

    checksum received;
    EXPECT_EQ(receive_payload(parent, total, message_size, received), "ok");
    EXPECT_EQ(send_summary(parent, received), "ok");
    EXPECT_EQ(child.wait(), "ok");
    EXPECT_EQ(received, expected);
  }
}

}  // namespace
}  // namespace sockpair::testing
