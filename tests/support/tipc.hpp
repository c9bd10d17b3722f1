// Test support: where TIPC must work, a TIPC test fails instead of skipping.
#pragma once

#include <cstdlib>

namespace sockpair::testing {

/// True when SOCKPAIR_REQUIRE_TIPC is set to anything but "" or "0". tools/vm sets it in its
/// virtual machines, whose kernels have the tipc module loaded: there a TIPC pair that fails
/// with EAFNOSUPPORT is a failure, not a reason to skip.
inline bool tipc_required() {
  const char* value = std::getenv("SOCKPAIR_REQUIRE_TIPC");  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && value[0] != '\0' && !(value[0] == '0' && value[1] == '\0');
}

}  // namespace sockpair::testing
