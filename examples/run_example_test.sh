#!/usr/bin/env bash
# Usage: run_example_test.sh PROGRAM [ARGS...]: passes when the example exits 0.
set -u
"$@"
rc=$?
if [[ $rc -ne 0 ]]; then
  echo "FAIL: $1 exited with $rc"
fi
exit "$rc"
