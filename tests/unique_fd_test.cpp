#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <type_traits>
#include <utility>

#include "tests/support/fds.hpp"

namespace {

using sockpair::unique_fd;
using sockpair::testing::is_open;

// A fresh descriptor to own: the read end of a pipe whose write end is closed at once.
int fresh_fd() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return -1;
  }
  ::close(fds[1]);
  return fds[0];
}

static_assert(!std::is_copy_constructible_v<unique_fd>);
static_assert(!std::is_copy_assignable_v<unique_fd>);
static_assert(std::is_nothrow_move_constructible_v<unique_fd>);
static_assert(std::is_nothrow_move_assignable_v<unique_fd>);
static_assert(!std::is_convertible_v<int, unique_fd>, "adopting a descriptor is explicit");

TEST(UniqueFd, DefaultConstructedIsEmpty) {
  const unique_fd fd;
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFd, DestructorClosesTheDescriptor) {
  const int raw = fresh_fd();
  {
    const unique_fd fd(raw);
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesUpOwnershipWithoutClosing) {
  const int raw = fresh_fd();
  {
    unique_fd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldDescriptorAndOwnsTheNewOne) {
  const int first = fresh_fd();
  const int second = fresh_fd();
  unique_fd fd(first);
  fd.reset(second);
  EXPECT_FALSE(is_open(first));
  EXPECT_TRUE(is_open(second));
  EXPECT_EQ(fd.get(), second);
  fd.reset();
  EXPECT_FALSE(is_open(second));
  EXPECT_FALSE(fd);
}

TEST(UniqueFd, ResetToTheOwnedDescriptorKeepsItOpen) {
  const int raw = fresh_fd();
  unique_fd fd(raw);
  fd.reset(raw);
  EXPECT_TRUE(is_open(raw));
  EXPECT_EQ(fd.get(), raw);
}

TEST(UniqueFd, CloseSucceedsAndEmptiesTheOwner) {
  const int raw = fresh_fd();
  unique_fd fd(raw);
  const auto closed = fd.close();
  EXPECT_TRUE(closed) << closed.error().message();
  EXPECT_FALSE(fd);
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, CloseReportsTheKernelsError) {
  // Close the number behind the owner's back: close(2) then fails with EBADF, and the
  // owner must report it rather than swallow it.
  const int raw = fresh_fd();
  unique_fd fd(raw);
  ::close(raw);
  const auto closed = fd.close();
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error(), std::errc::bad_file_descriptor);
  EXPECT_FALSE(fd);
}

TEST(UniqueFd, CloseOnAnEmptyOwnerSucceeds) {
  unique_fd fd;
  EXPECT_TRUE(fd.close());
}

TEST(UniqueFd, MovedFromOwnerIsEmptyAndClosesNothing) {
  const int raw = fresh_fd();
  unique_fd a(raw);
  unique_fd b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(b.get(), raw);
  a.reset();  // must not close `raw`
  EXPECT_TRUE(is_open(raw));

  unique_fd c;
  c = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(UniqueFd, MoveAssignmentClosesTheTargetsOldDescriptor) {
  const int old_fd = fresh_fd();
  const int new_fd = fresh_fd();
  unique_fd target(old_fd);
  unique_fd source(new_fd);
  target = std::move(source);
  EXPECT_FALSE(is_open(old_fd));
  EXPECT_TRUE(is_open(new_fd));
  EXPECT_EQ(target.get(), new_fd);
}

TEST(UniqueFd, MovedFromOwnerNeverClosesTheNumberAgain) {
  // After the owner closes `raw`, the kernel hands the same number out again. If the
  // moved-from owner closed `raw` a second time, it would close this unrelated descriptor.
  const int raw = fresh_fd();
  unique_fd moved_from(raw);
  { const unique_fd owner(std::move(moved_from)); }
  const int reused = fresh_fd();
  ASSERT_EQ(reused, raw) << "the kernel gives out the lowest free number";
  moved_from.reset();  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(is_open(reused));
  ::close(reused);
}

TEST(UniqueFd, DestructorAfterExplicitCloseDoesNotCloseAgain) {
  const int raw = fresh_fd();
  int reused = -1;
  {
    unique_fd owner(raw);
    ASSERT_TRUE(owner.close());
    reused = fresh_fd();
    ASSERT_EQ(reused, raw) << "the kernel gives out the lowest free number";
  }
  EXPECT_TRUE(is_open(reused));
  ::close(reused);
}

TEST(UniqueFd, SwapExchangesOwnership) {
  const int x = fresh_fd();
  const int y = fresh_fd();
  unique_fd a(x);
  unique_fd b(y);
  swap(a, b);
  EXPECT_EQ(a.get(), y);
  EXPECT_EQ(b.get(), x);
}

}  // namespace
