#!/usr/bin/env bash
# The library reports every errno value in std::system_category(), through `errno_code(E...)`
# (result.hpp) or `last_errno_code()`, so that one errno never becomes two unequal
# std::error_codes (tests/error_codes_test.cpp checks the paths it can reach). This scan fails
# on any header that builds an errno-valued code another way: from a `std::errc` constant
# (`make_error_code(std::errc::...)`, or one passed to a helper) or in
# `std::generic_category()`, either of which makes e1 == e2 false against the kernel's own
# errors. Comments are exempt.
set -uo pipefail
status=0
found=$(mktemp)
trap 'rm -f "$found"' EXIT
for header in "$@"; do
  # Drop // comments, then look for the forbidden forms.
  # std::errc names a condition to compare with (`== std::errc::...`), never a value to return.
  if sed 's://.*$::' "$header" | grep -nE 'std::errc::|generic_category\(' |
      grep -vE '==\s*std::errc::' >"$found"; then
    echo "$header builds an errno value outside system_category():"
    sed 's/^/  /' "$found"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "scanned $# headers: every errno value goes through errno_code"
exit "$status"
