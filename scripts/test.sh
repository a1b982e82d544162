#!/usr/bin/env bash
# Builds supportd and runs every test: unit, corpus, integration (real Dovecot + SMTP),
# resilience and browser tests; then the same suite under AddressSanitizer + UBSan, and the
# libFuzzer target for 60 s. Usage: scripts/test.sh [--quick]   (--quick: the first part only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${SUPPORTD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
[[ ${1:-} == --quick ]] && exit 0
scripts/sanitize.sh
scripts/fuzz.sh 60
