#!/usr/bin/env bash
# Runs the privilege-separation example and checks what it proves. Usage: run_test.sh PROGRAM
set -u
output=$("$1" 2>&1)
rc=$?
printf '%s\n' "$output"
if [[ $rc -ne 0 ]]; then
  echo "FAIL: $1 exited with $rc"
  exit 1
fi
if ! grep -q '^parent: the child read the secret through the descriptor$' <<<"$output"; then
  echo "FAIL: the child never read the secret through the descriptor"
  exit 1
fi
if [[ $(id -u) -eq 0 ]] &&
  ! grep -q 'by path: Permission denied, as it should be$' <<<"$output"; then
  echo "FAIL: run as root, but the child did not show that it could not open the file by path"
  exit 1
fi
echo PASS
