// Test support: what the environment asks of a test (set by tools/vm in its virtual machines).
#pragma once

#include <cstdlib>

namespace sockpair::testing {

/// True when environment variable `name` is set to anything but "" or "0".
inline bool environment_flag(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && value[0] != '\0' && !(value[0] == '0' && value[1] == '\0');
}

/// SOCKPAIR_REQUIRE_TIPC: tools/vm sets it in its virtual machines, whose kernels have the
/// tipc module loaded: there a TIPC pair that fails with EAFNOSUPPORT is a failure, not a
/// reason to skip.
inline bool tipc_required() { return environment_flag("SOCKPAIR_REQUIRE_TIPC"); }

/// SOCKPAIR_SLOW_MACHINE: tools/vm sets it under software emulation (about 10x slower than
/// native). Tests sized for native speed shrink their largest loads there (say where).
inline bool slow_machine() { return environment_flag("SOCKPAIR_SLOW_MACHINE"); }

}  // namespace sockpair::testing
