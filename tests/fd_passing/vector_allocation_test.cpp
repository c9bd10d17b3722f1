// receive_with_fds into a std::vector when the vector cannot be allocated: the call is
// noexcept, so the failure must come back as ENOMEM (not std::terminate), and the descriptors
// that did arrive must be closed, not leaked. The allocation fails for real: this binary
// replaces operator new (tests/support/failing_allocator.hpp).
#include <socketpair/ancillary.hpp>
#include <socketpair/identity.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <system_error>
#include <utility>

#include "tests/fd_passing/helpers.hpp"
#include "tests/support/failing_allocator.hpp"
#include "tests/support/fds.hpp"
#include "tests/support/kernel.hpp"

namespace {

using sockpair::testing::failing_allocations;
using sockpair::testing::open_fds;

template <class Pair>
class VectorAllocation : public ::testing::Test {};
using pair_types = ::testing::Types<sockpair::socket_pair<sockpair::stream>,
                                    sockpair::socket_pair<sockpair::seqpacket>,
                                    sockpair::socket_pair<sockpair::dgram>>;
TYPED_TEST_SUITE(VectorAllocation, pair_types);

TYPED_TEST(VectorAllocation, ReceivesIntoAVectorWhenMemoryIsThere) {  // the control
  auto [a, b] = TypeParam::create().value();
  auto pipe = sockpair::testing::make_pipe();
  ASSERT_TRUE(sockpair::send_with_fds(a, sockpair::testing::bytes_of("x"),
                                      {pipe.read.get(), pipe.write.get()}));
  std::array<std::byte, 4> buffer{};
  auto got = sockpair::receive_with_fds(b, buffer);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got.value().size, 1U);
  EXPECT_EQ(got.value().fds.size(), 2U);
}

TYPED_TEST(VectorAllocation, AFailedAllocationIsEnomemAndClosesWhatArrived) {
  auto [a, b] = TypeParam::create().value();
  {
    auto pipe = sockpair::testing::make_pipe();
    ASSERT_TRUE(sockpair::send_with_fds(a, sockpair::testing::bytes_of("x"),
                                        {pipe.read.get(), pipe.write.get()}));
  }  // the pipe now lives only in flight
  const auto before = open_fds();
  std::array<std::byte, 4> buffer{};
  std::error_code error;
  std::size_t failed = 0;
  {
    failing_allocations fail;
    auto got = sockpair::receive_with_fds(b, buffer);
    error = got ? std::error_code() : got.error();
    failed = failing_allocations::failed();
  }
  EXPECT_EQ(failed, 1U) << "the vector's allocation, and only it, failed";
  EXPECT_EQ(error, std::error_code(ENOMEM, std::system_category())) << error.message();
  EXPECT_EQ(open_fds(), before) << "both received descriptors closed, nothing else touched";
}

TYPED_TEST(VectorAllocation, AFailedAllocationLeavesNoSenderPidfd) {
  auto [a, b] = TypeParam::create().value();
  auto on = sockpair::set_receive_pidfd(b, true);
  if (!sockpair::testing::kernel_at_least(6, 5)) {
    GTEST_SKIP() << "SO_PASSPIDFD needs Linux >= 6.5";
  }
  ASSERT_TRUE(on) << on.error().message();
  {
    auto pipe = sockpair::testing::make_pipe();
    ASSERT_TRUE(sockpair::send_with_fds(a, sockpair::testing::bytes_of("x"), {pipe.read.get()}));
  }
  const auto before = open_fds();
  std::array<std::byte, 4> buffer{};
  sockpair::unique_fd sender;
  std::error_code error;
  {
    failing_allocations fail;
    auto got = sockpair::receive_with_fds(b, buffer, {.sender_pidfd = &sender});
    error = got ? std::error_code() : got.error();
  }
  EXPECT_EQ(error, std::error_code(ENOMEM, std::system_category())) << error.message();
  EXPECT_FALSE(sender) << "the failed call left the sender's pidfd in the slot";
  sender.reset();
  EXPECT_EQ(open_fds(), before) << "the descriptor and the pidfd are closed";
}

}  // namespace
