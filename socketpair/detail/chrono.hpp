// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// std::chrono's durations and clocks, for timeouts.
//
// libstdc++'s <chrono> also parses the C++20 calendar, time zones and their formatting: about
// 0.1 s per translation unit, a third of this library's whole parse time. Its
// <bits/chrono.h> holds the durations, clocks and literals alone (it is what libstdc++'s own
// <thread> and <mutex> include). Everywhere else, <chrono>.
#pragma once

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#include <bits/chrono.h>
#else
#include <chrono>
#endif
