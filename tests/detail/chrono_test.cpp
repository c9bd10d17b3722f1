// detail/chrono.hpp: the library's headers take libstdc++'s <bits/chrono.h> (durations and
// clocks), never the full <chrono> with its calendar, time zones and formatting (a third of
// the library's parse time), whatever is included first. deadline.hpp comes first here on
// purpose: as the first include of a translation unit it once took the full <chrono>, and
// with it framing.hpp and the umbrella header (0.79 s -> 1.05 s with g++ 12).
#include <socketpair/deadline.hpp>  // first: see above

#if defined(__GLIBCXX__) && defined(_GLIBCXX_CHRONO)
constexpr bool full_chrono_after_deadline = true;
#else
constexpr bool full_chrono_after_deadline = false;
#endif

#include <socketpair/socketpair.hpp>

#if defined(__GLIBCXX__) && defined(_GLIBCXX_CHRONO)
constexpr bool full_chrono_after_everything = true;
#else
constexpr bool full_chrono_after_everything = false;
#endif

#include <gtest/gtest.h>

namespace {

TEST(LeanChrono, NoHeaderTakesTheFullChronoEvenWhenIncludedFirst) {
  EXPECT_FALSE(full_chrono_after_deadline) << "<socketpair/deadline.hpp> included <chrono>";
  EXPECT_FALSE(full_chrono_after_everything) << "<socketpair/socketpair.hpp> included <chrono>";
}

}  // namespace
