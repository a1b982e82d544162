#!/usr/bin/env bash
# Builds supportd and runs every test: unit, corpus and integration (real Dovecot + SMTP).
# Usage: scripts/test.sh   (installs missing Debian packages first)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${SUPPORTD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
