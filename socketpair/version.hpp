// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The library's version. This file is the one place it is written: the CMake project()
// reads the three macros below, the pkg-config file is written by CMake from them, and
// MODULE.bazel's module(version = ...) repeats them (//tests:version_test fails when it
// disagrees). docs/CHANGELOG.md says what changed between versions.
#pragma once

#include <socketpair/detail/config.hpp>

// Macros on purpose: `#if` reads them, and CMake's project() parses these three lines.
// NOLINTBEGIN(cppcoreguidelines-macro-usage)

/// The version as macros, for `#if` (e.g. `#if SOCKPAIR_VERSION_MINOR >= 2`).
#define SOCKPAIR_VERSION_MAJOR 0
#define SOCKPAIR_VERSION_MINOR 1
#define SOCKPAIR_VERSION_PATCH 0

#define SOCKPAIR_DETAIL_STRINGIZE(x) #x
#define SOCKPAIR_DETAIL_VERSION_STRING(a, b, c) \
  SOCKPAIR_DETAIL_STRINGIZE(a) "." SOCKPAIR_DETAIL_STRINGIZE(b) "." SOCKPAIR_DETAIL_STRINGIZE(c)

/// The version as text: "major.minor.patch".
#define SOCKPAIR_VERSION_STRING                                                  \
  SOCKPAIR_DETAIL_VERSION_STRING(SOCKPAIR_VERSION_MAJOR, SOCKPAIR_VERSION_MINOR, \
                                 SOCKPAIR_VERSION_PATCH)

// NOLINTEND(cppcoreguidelines-macro-usage)

namespace sockpair {

/// A version number, as numbers and as text ("0.1.0").
struct version_info {
  unsigned major;
  unsigned minor;
  unsigned patch;
  const char* string;  // static storage, NUL-terminated
};

/// The version of the headers this translation unit was compiled with.
inline constexpr version_info version{SOCKPAIR_VERSION_MAJOR, SOCKPAIR_VERSION_MINOR,
                                      SOCKPAIR_VERSION_PATCH, SOCKPAIR_VERSION_STRING};

}  // namespace sockpair
