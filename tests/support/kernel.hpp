// Test support: the running kernel's version, for features that exist from a given release on
// (a test then pins the feature there and the library's clear error before it).
#pragma once

#include <sys/utsname.h>

#include <cstdio>

namespace sockpair::testing {

/// True when the running kernel's release (uname -r) is at least `major`.`minor`.
inline bool kernel_at_least(int major, int minor) {
  utsname name{};
  int have_major = 0;
  int have_minor = 0;
  if (::uname(&name) != 0 ||
      std::sscanf(name.release, "%d.%d", &have_major, &have_minor) != 2) {  // NOLINT(cert-err34-c)
    return false;
  }
  return have_major > major || (have_major == major && have_minor >= minor);
}

}  // namespace sockpair::testing
