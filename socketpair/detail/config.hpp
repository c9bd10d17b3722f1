// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Language and platform requirements, checked once by every public header.
#pragma once

#if !defined(__cplusplus) || __cplusplus < 202002L
#error "socketpair requires C++20: compile with -std=c++20 (or later)."
#endif

#if !defined(__unix__) && !defined(__APPLE__)
#error "socketpair wraps POSIX socketpair(2) and needs a POSIX system."
#endif
