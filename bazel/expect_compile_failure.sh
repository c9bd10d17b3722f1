#!/usr/bin/env bash
# Usage: expect_compile_failure.sh COMPILER_LOG EXPECTED_TEXT
# Passes when the log shows a failed compile whose diagnostics contain EXPECTED_TEXT (and,
# where the snippet has one, a positive control that compiled).
set -u
log=$1
expect=$2
if grep -q 'SOCKPAIR: the positive control did not compile' "$log"; then
  echo "FAIL: the snippet's positive control (-DSOCKPAIR_POSITIVE_CONTROL) must compile"
  echo "--- compiler output ---"
  cat "$log"
  exit 1
fi
if grep -q 'SOCKPAIR: the snippet compiled' "$log"; then
  echo "FAIL: the snippet compiled, but it must not"
  exit 1
fi
if ! grep -qF -- "$expect" "$log"; then
  echo "FAIL: the compile failed, but without the expected message: $expect"
  echo "--- compiler output ---"
  cat "$log"
  exit 1
fi
echo "PASS: refused with: $(grep -F -m1 -- "$expect" "$log")"
