#!/usr/bin/env bash
# `bazel run -c opt //benchmarks:report [-- OPTIONS]`: runs the suite and the instruction
# counts and writes docs/benchmarks.md and docs/benchmarks-throughput.png in the workspace.
# OPTIONS go to report.py (--help lists them). Bazel passes the binaries' paths first.
set -euo pipefail
script=$(realpath "$1")
suite=$(realpath "$2")
raw=$(realpath "$3")
library=$(realpath "$4")
asio=$(realpath "$5")
async_asio=$(realpath "$6")
async_library=$(realpath "$7")
raw_checked=$(realpath "$8")
shift 8
if [[ -z "${BUILD_WORKSPACE_DIRECTORY:-}" ]]; then
  echo "report: run me with 'bazel run -c opt //benchmarks:report'" >&2
  exit 2
fi
cd "$BUILD_WORKSPACE_DIRECTORY"
# Debian's python3 has matplotlib; a python3 earlier on PATH (pyenv, say) may not.
exec /usr/bin/python3 "$script" --suite "$suite" --instructions "raw=$raw" \
  --instructions "raw_checked=$raw_checked" --instructions "sockpair=$library" --instructions "asio=$asio" \
  --instructions "asio=$async_asio" --instructions "sockpair=$async_library" "$@"
