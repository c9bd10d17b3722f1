// The translation unit that builds the GoogleTest programs' precompiled header under CMake
// (tests/CMakeLists.txt); it tests nothing of its own. Not part of the Bazel build.
#include <gtest/gtest.h>

TEST(PrecompiledHeader, Builds) { SUCCEED(); }
