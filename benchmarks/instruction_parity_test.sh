#!/usr/bin/env bash
# Usage: instruction_parity_test.sh RAW_PROGRAM SOCKPAIR_PROGRAM
#
# The wrapper costs nothing measurable: under callgrind, which counts user-space instructions
# deterministically (never time), the library's path per 64-byte message costs at most what
# the hand-written send(2)/recv(2) loops cost, and descriptor passing at most 1.02 times the
# hand-written sendmsg(2)/recvmsg(2) (see instructions/driver.hpp for what is counted).
#
# The counts mean something only for an optimised build: CI runs this as
#   bazel test -c opt //benchmarks:instruction_parity_test
# (tagged manual, so that `bazel test //...` in the other configurations leaves it out).
set -u
raw=$1
lib=$2
messages=${PARITY_MESSAGES:-20000}
status=0

if ! command -v valgrind >/dev/null; then
  echo "FAIL: valgrind is not installed (tools/setup installs it)"
  exit 1
fi

# Instructions per message of `program` in `mode`, counted only inside measured_* calls.
count() {
  local program=$1 mode=$2 out
  out=$(mktemp)
  if ! LD_BIND_NOW=1 valgrind --tool=callgrind --toggle-collect='measured_*' \
    --callgrind-out-file="$out" "$program" "$messages" "$mode" >/dev/null 2>&1; then
    rm -f "$out"
    echo "FAIL: $program $messages $mode failed under callgrind" >&2
    echo -1
    return
  fi
  callgrind_annotate "$out" 2>/dev/null | awk -v n="$messages" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.1f\n", $1 / n; exit }'
  rm -f "$out"
}

# mode, allowed ratio library / raw
for check in "some 1.00" "exact 1.00" "fd1 1.02" "fd16 1.02"; do
  read -r mode limit <<<"$check"
  r=$(count "$raw" "$mode")
  l=$(count "$lib" "$mode")
  verdict=$(awk -v l="$l" -v r="$r" -v k="$limit" 'BEGIN {
    if (l < 0 || r <= 0) { print "FAIL"; exit }
    print (l <= r * k + 1e-9) ? "ok" : "FAIL" }')
  printf '%-5s library %7s  raw %7s  ratio %s (at most %s): %s\n' "$mode" "$l" "$r" \
    "$(awk -v l="$l" -v r="$r" 'BEGIN { if (r > 0) printf "%.3f", l / r; else print "-" }')" \
    "$limit" "$verdict"
  if [[ "$verdict" != ok ]]; then
    status=1
  fi
done
exit "$status"
