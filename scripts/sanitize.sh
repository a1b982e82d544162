#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (g++) and runs it.
# Any sanitizer report fails the run, including reports from child processes (the supportd binary
# started by the CLI and integration tests), which are collected from log files.
# Usage: scripts/sanitize.sh [ctest label regex]   (default: every test)
# Env:   SUPPORTD_ASAN_BUILD_DIR (default build-asan), JOBS (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SUPPORTD_ASAN_BUILD_DIR:-build-asan}
labels=${1:-}
jobs=${JOBS:-$(nproc)}
start=$SECONDS

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
  -DSUPPORTD_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j"$jobs"
echo "sanitize: build took $((SECONDS - start)) s"

# Reports go to per-process files so that a report in a child process cannot be lost in a test's
# captured output; a fresh folder per run so old reports never count.
logs=$(realpath "$build")/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# ASan, LeakSanitizer and UBSan share one runtime here, so they share one log_path prefix.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$logs/report"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/report"

test_start=$SECONDS
status=0
ctest --test-dir "$build" ${labels:+-L "$labels"} --output-on-failure -j"$jobs" --timeout 600 || status=$?
echo "sanitize: tests took $((SECONDS - test_start)) s, total $((SECONDS - start)) s"

shopt -s nullglob
reports=("$logs"/*)
if ((${#reports[@]})); then
  echo "sanitize: ${#reports[@]} sanitizer report(s):"
  for r in "${reports[@]}"; do
    echo "==== $r"
    cat "$r"
  done
  exit 1
fi
exit "$status"
