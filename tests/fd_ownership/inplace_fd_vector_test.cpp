// The in-place container behind receive_with_fds<N> and the copies around it, against real
// descriptors. The library copies a few descriptors one at a time and more in bulk, and the
// container holds a unique_fd only in its first size() slots; these tests pin down that every
// count arrives complete and in order whichever way it was copied, and that the container
// closes exactly what it owns, once.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <utility>
#include <vector>

#include "tests/support/fds.hpp"

namespace {

using sockpair::errc;
using sockpair::inplace_fd_vector;
using sockpair::max_fds_per_message;
using sockpair::receive_with_fds;
using sockpair::send_with_fds;
using sockpair::socket;
using sockpair::socket_pair;
using sockpair::unique_fd;
using sockpair::testing::is_open;
using sockpair::testing::open_fds;
using sockpair::testing::same_file;

// `count` distinct open files (memfds: one descriptor and one inode each).
std::vector<unique_fd> distinct_files(std::size_t count) {
  std::vector<unique_fd> files;
  files.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::memfd_create("inplace_fd_vector_test", MFD_CLOEXEC);
    if (fd < 0) {
      std::abort();  // the kernel refused: nothing here can be tested
    }
    files.emplace_back(fd);
  }
  return files;
}

// The raw numbers of `files`, for the std::span<const int> overload.
std::vector<int> numbers_of(const std::vector<unique_fd>& files) {
  std::vector<int> numbers;
  numbers.reserve(files.size());
  for (const unique_fd& fd : files) {
    numbers.push_back(fd.get());
  }
  return numbers;
}

const std::array<std::byte, 1> one_byte = {std::byte{'x'}};

template <class Type>
class InplaceFdVector : public ::testing::Test {
 public:
  void SetUp() override {
    auto pair = socket_pair<Type>::create();
    ASSERT_TRUE(pair) << pair.error().message();
    a = std::move(pair.value().first);
    b = std::move(pair.value().second);
  }

  // Sends `files` in one message from `a` and receives them at `b` into room for 253.
  sockpair::result<sockpair::received<inplace_fd_vector<max_fds_per_message>>> pass(
      const std::vector<unique_fd>& files) {
    auto sent = send_with_fds(a, std::span(one_byte), std::span<const unique_fd>(files));
    if (!sent) {
      return sent.error();
    }
    std::array<std::byte, 1> buffer{};
    return receive_with_fds<max_fds_per_message>(b, buffer);
  }

  socket<Type> a;
  socket<Type> b;
};

using AllTypes = ::testing::Types<sockpair::stream, sockpair::dgram, sockpair::seqpacket>;
TYPED_TEST_SUITE(InplaceFdVector, AllTypes);

TYPED_TEST(InplaceFdVector, EveryCountArrivesCompleteAndInOrderFromEitherKindOfSpan) {
  // 1 to 17 crosses the one-at-a-time and the bulk copies on both sides, odd and even; 253 is
  // the most one message carries.
  std::vector<std::size_t> counts;
  for (std::size_t n = 1; n <= 17; ++n) {
    counts.push_back(n);
  }
  counts.push_back(max_fds_per_message);
  for (const std::size_t n : counts) {
    const std::vector<unique_fd> files = distinct_files(n);
    const std::vector<int> numbers = numbers_of(files);
    std::array<std::byte, 1> buffer{};

    ASSERT_TRUE(send_with_fds(this->a, std::span(one_byte), std::span<const int>(numbers)));
    auto from_ints = receive_with_fds<max_fds_per_message>(this->b, buffer);
    ASSERT_TRUE(from_ints) << n << ": " << from_ints.error().message();
    ASSERT_EQ(from_ints.value().fds.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(same_file(from_ints.value().fds[i].get(), files[i].get())) << n << ", " << i;
    }

    auto from_owners = this->pass(files);
    ASSERT_TRUE(from_owners) << n << ": " << from_owners.error().message();
    ASSERT_EQ(from_owners.value().fds.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(same_file(from_owners.value().fds[i].get(), files[i].get())) << n << ", " << i;
    }
  }
}

TYPED_TEST(InplaceFdVector, DestroyingItClosesWhatItHoldsOnceAndNothingMovedOut) {
  const std::vector<unique_fd> files = distinct_files(6);  // more than are copied one by one
  const auto before = open_fds();
  unique_fd taken;
  int replacement = -1;
  std::vector<int> held;
  {
    auto got = this->pass(files);
    ASSERT_TRUE(got) << got.error().message();
    inplace_fd_vector<max_fds_per_message>& fds = got.value().fds;
    ASSERT_EQ(fds.size(), 6U);
    taken = std::move(fds[1]);  // now owned out here
    replacement = ::dup(files[0].get());
    ASSERT_GE(replacement, 0);
    fds[2].reset(replacement);  // closes the received one; the vector owns the duplicate
    for (const unique_fd& fd : fds) {
      if (fd) {
        held.push_back(fd.get());
      }
    }
    ASSERT_EQ(held.size(), 5U);
  }
  for (const int fd : held) {
    EXPECT_FALSE(is_open(fd)) << fd;
  }
  EXPECT_TRUE(is_open(taken.get()));
  EXPECT_TRUE(same_file(taken.get(), files[1].get()));
  taken.reset();
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(InplaceFdVector, MoveAssignmentClosesWhatTheTargetHeldAndEmptiesTheSource) {
  const std::vector<unique_fd> first_files = distinct_files(2);
  const std::vector<unique_fd> second_files = distinct_files(5);
  const auto before = open_fds();
  {
    auto first = this->pass(first_files);
    auto second = this->pass(second_files);
    ASSERT_TRUE(first) << first.error().message();
    ASSERT_TRUE(second) << second.error().message();
    const int old0 = first.value().fds[0].get();
    const int old1 = first.value().fds[1].get();

    first.value().fds = std::move(second.value().fds);

    EXPECT_FALSE(is_open(old0));
    EXPECT_FALSE(is_open(old1));
    // NOLINTNEXTLINE(bugprone-use-after-move): a moved-from vector is empty, by contract
    EXPECT_TRUE(second.value().fds.empty());
    ASSERT_EQ(first.value().fds.size(), 5U);
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_TRUE(same_file(first.value().fds[i].get(), second_files[i].get())) << i;
    }
  }
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(InplaceFdVector, SelfMoveAssignmentKeepsEveryDescriptor) {
  const std::vector<unique_fd> files = distinct_files(3);
  auto got = this->pass(files);
  ASSERT_TRUE(got) << got.error().message();
  inplace_fd_vector<max_fds_per_message>& fds = got.value().fds;
  inplace_fd_vector<max_fds_per_message>& same = fds;
  fds = std::move(same);
  ASSERT_EQ(fds.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(same_file(fds[i].get(), files[i].get())) << i;
  }
}

TYPED_TEST(InplaceFdVector, ClearedVectorTakesNewDescriptors) {
  const std::vector<unique_fd> files = distinct_files(5);
  const auto before = open_fds();
  {
    auto got = this->pass(files);
    ASSERT_TRUE(got) << got.error().message();
    inplace_fd_vector<max_fds_per_message>& fds = got.value().fds;
    const int first = fds[0].get();
    fds.clear();
    EXPECT_TRUE(fds.empty());
    EXPECT_FALSE(is_open(first));

    auto again = this->pass(files);
    ASSERT_TRUE(again) << again.error().message();
    fds = std::move(again.value().fds);
    ASSERT_EQ(fds.size(), 5U);
    EXPECT_TRUE(same_file(fds[4].get(), files[4].get()));
  }
  EXPECT_EQ(open_fds(), before);
}

TYPED_TEST(InplaceFdVector, OverflowAfterABulkCopyClosesEverything) {
  // Room for 5 keeps five in one bulk copy before the other two find no room: all seven are
  // closed and the call fails.
  const std::vector<unique_fd> files = distinct_files(7);
  const std::vector<int> numbers = numbers_of(files);
  const auto before = open_fds();
  ASSERT_TRUE(send_with_fds(this->a, std::span(one_byte), std::span<const int>(numbers)));
  std::array<std::byte, 1> buffer{};
  auto got = receive_with_fds<5>(this->b, buffer);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::control_truncated);
  EXPECT_EQ(open_fds(), before);
}

#if defined(__linux__)
TYPED_TEST(InplaceFdVector, CredentialsAndDescriptorsArriveTogether) {
  // With SO_PASSCRED on, SCM_CREDENTIALS comes first and the descriptors in a second control
  // message: both must be read.
  ASSERT_TRUE(sockpair::set_receive_credentials(this->b, true));
  const std::vector<unique_fd> files = distinct_files(5);
  auto got = this->pass(files);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(got.value().credentials.has_value());
  EXPECT_EQ(*got.value().credentials, sockpair::current_credentials());
  ASSERT_EQ(got.value().fds.size(), 5U);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(same_file(got.value().fds[i].get(), files[i].get())) << i;
  }
}
#endif

}  // namespace
