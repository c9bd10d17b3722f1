#!/usr/bin/env bash
# Usage: smoke_test.sh SUITE INSTRUCTION_PROGRAM...
#
# Proves the benchmarks still run and still check their data: every benchmark of the suite
# runs once for a moment (a benchmark that sees a lost or corrupted message aborts), and
# each instruction-count program moves a few messages both ways and verifies them. Nothing
# here looks at a time.
set -u
suite=$1
shift
status=0

listed=$("$suite" --benchmark_list_tests=true)
if [[ -z "$listed" ]]; then
  echo "FAIL: the suite lists no benchmarks"
  status=1
fi
while read -r name; do
  if [[ ! "$name" =~ ^[a-z0-9_]+/[a-z0-9_]+/[0-9]+ ]]; then
    echo "FAIL: benchmark name '$name' is not <case>/<contender>/<param>"
    status=1
  fi
done <<<"$listed"

if ! "$suite" --benchmark_min_time=0.001 --benchmark_format=console >/dev/null; then
  echo "FAIL: the suite exited with an error"
  status=1
fi

for program in "$@"; do
  ran=0
  for mode in some exact fd1 fd16 async async_fd1; do
    out=$("$program" 200 "$mode" 2>&1)
    rc=$?
    if [[ $rc -eq 3 && "$out" == *"cannot "* ]]; then
      continue  # a path without descriptor passing (Asio), or a mode of the other driver
    fi
    ran=$((ran + 1))
    if [[ $rc -ne 0 ]]; then
      echo "FAIL: $program 200 $mode exited with $rc: $out"
      status=1
    elif [[ "$out" != *"200 messages of "*" verified"* ]]; then
      echo "FAIL: $program 200 $mode printed '$out'"
      status=1
    fi
  done
  if [[ $ran -eq 0 ]]; then
    echo "FAIL: $program ran no mode"
    status=1
  fi
done

if [[ $status -eq 0 ]]; then
  echo "PASS: $(wc -l <<<"$listed") benchmarks ran, $# instruction programs verified"
fi
exit "$status"
