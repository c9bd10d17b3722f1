// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// std::chrono's durations and clocks, for timeouts.
//
// libstdc++'s <chrono> also parses the C++20 calendar, time zones and their formatting: about
// 0.1 s per translation unit, a third of this library's whole parse time. Its
// <bits/chrono.h> holds the durations, clocks and literals alone (it is what libstdc++'s own
// <thread> and <mutex> include). Everywhere else, <chrono>.
#pragma once

// <version> (tiny) first: __GLIBCXX__ is defined only once some libstdc++ header is in, and a
// header whose first include is this one (deadline.hpp, included first by framing.hpp) would
// otherwise have taken the full <chrono> (measured: the umbrella header 0.79 s -> 1.05 s).
#include <version>

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#include <bits/chrono.h>
#else
#include <chrono>
#endif
