#include <socketpair/unique_fd.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <system_error>

#include <type_traits>
#include <utility>

#include "tests/support/fds.hpp"

namespace {

using sockpair::unique_fd;
using sockpair::testing::has_cloexec;
using sockpair::testing::is_open;
using sockpair::testing::same_file;

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

// ---- try_clone (F_DUPFD_CLOEXEC) ------------------------------------------------------------

TEST(UniqueFd, TryCloneOwnsAnotherDescriptorForTheSameFileCloseOnExec) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, 0), 0);  // no FD_CLOEXEC on the original
  const unique_fd read_end(fds[0]);
  const unique_fd write_end(fds[1]);
  auto copy = read_end.try_clone();
  ASSERT_TRUE(copy) << copy.error().message();
  ASSERT_TRUE(copy.value());
  EXPECT_NE(copy.value().get(), read_end.get());
  EXPECT_TRUE(same_file(copy.value().get(), read_end.get()));
  EXPECT_TRUE(has_cloexec(copy.value().get()));
  EXPECT_FALSE(has_cloexec(read_end.get())) << "the original's flags are its own";
  // The same open file: a byte written is read through either.
  ASSERT_EQ(::write(write_end.get(), "c", 1), 1);
  char byte = 0;
  EXPECT_EQ(::read(copy.value().get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'c');
  const int raw = copy.value().get();
  copy.value().reset();
  EXPECT_FALSE(is_open(raw));
  EXPECT_TRUE(is_open(read_end.get())) << "closing the clone leaves the original";
}

TEST(UniqueFd, TryCloneOfAnEmptyOwnerIsEbadf) {
  const unique_fd empty;
  auto copy = empty.try_clone();
  ASSERT_FALSE(copy);
  EXPECT_EQ(copy.error(), std::errc::bad_file_descriptor);
}

TEST(UniqueFd, TryCloneWithNoFreeDescriptorNumberIsEmfile) {
  // In a child: RLIMIT_NOFILE at the number of descriptors open leaves no number to clone to.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const unique_fd owned(fresh_fd());
    const rlimit limit{static_cast<rlim_t>(owned.get()) + 1, static_cast<rlim_t>(owned.get()) + 1};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      ::_exit(2);
    }
    // Every number below the limit in use: fill any gaps first.
    while (::fcntl(owned.get(), F_DUPFD, 0) >= 0) {
    }
    auto copy = owned.try_clone();
    ::_exit(!copy && copy.error() == std::errc::too_many_files_open ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
