#!/usr/bin/env bash
# Usage: instruction_parity_test.sh RAW_PROGRAM SOCKPAIR_PROGRAM ASYNC_ASIO ASYNC_SOCKPAIR
#
# The wrapper costs nothing measurable: under callgrind, which counts user-space instructions
# deterministically (never time), the library's path per 64-byte message costs at most what
# the hand-written send(2)/recv(2) loops cost, and descriptor passing at most 1.02 times the
# hand-written sendmsg(2)/recvmsg(2) (see instructions/driver.hpp for what is counted).
# Asynchronously (<socketpair/asio.hpp>, instructions/async_driver.hpp), a 64-byte round trip
# and a descriptor received cost at most what Asio's own path costs: async_read_some /
# async_write_some, and async_wait + recvmsg(2) by hand (the descriptor case: 1,092.3 against
# 1,095.3; docs/async.md, "Where the remaining instructions go").
#
# The counts mean something only for an optimised build: CI runs this as
#   bazel test -c opt //benchmarks:instruction_parity_test
# (tagged manual, so that `bazel test //...` in the other configurations leaves it out).
set -u
raw=$1
lib=$2
async_asio=$3
async_lib=$4
messages=${PARITY_MESSAGES:-20000}
status=0

if ! command -v valgrind >/dev/null; then
  echo "FAIL: valgrind is not installed (tools/setup installs it)"
  exit 1
fi

# Instructions per message of `program` in `mode`, counted only inside measured_* calls.
count() {
  local program=$1 mode=$2 messages=$3 out
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

# mode, allowed ratio library / reference, steps (an asynchronous step costs ten times more)
for check in "some 1.00 $messages" "exact 1.00 $messages" "fd1 1.02 $messages" \
  "fd16 1.02 $messages" "async 1.00 $((messages / 10))" "async_fd1 1.00 $((messages / 10))"; do
  read -r mode limit steps <<<"$check"
  if [[ $mode == async* ]]; then
    r=$(count "$async_asio" "$mode" "$steps")
    l=$(count "$async_lib" "$mode" "$steps")
  else
    r=$(count "$raw" "$mode" "$steps")
    l=$(count "$lib" "$mode" "$steps")
  fi
  verdict=$(awk -v l="$l" -v r="$r" -v k="$limit" 'BEGIN {
    if (l < 0 || r <= 0) { print "FAIL"; exit }
    print (l <= r * k + 1e-9) ? "ok" : "FAIL" }')
  printf '%-9s library %7s  reference %7s  ratio %s (at most %s): %s\n' "$mode" "$l" "$r" \
    "$(awk -v l="$l" -v r="$r" 'BEGIN { if (r > 0) printf "%.3f", l / r; else print "-" }')" \
    "$limit" "$verdict"
  if [[ "$verdict" != ok ]]; then
    status=1
  fi
done
exit "$status"
