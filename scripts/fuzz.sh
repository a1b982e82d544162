#!/usr/bin/env bash
# Fuzzes parse → guard → classify → render → compose (tests/fuzz/fuzz_pipeline.cpp) with
# libFuzzer + ASan + UBSan (clang 16), for a bounded time, from a seed corpus of real mail.
# First every saved crash in tests/data/fuzz/ is replayed, so fixed bugs stay fixed.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
# Env:   SUPPORTD_FUZZ_BUILD_DIR (default build-fuzz), JOBS (default nproc),
#        SUPPORTD_FUZZ_REAL_SAMPLE (files sampled from ../shared/corpus/real, default 500),
#        SUPPORTD_FUZZ_SKIP_BUILD=1 (reuse the binary already in the build folder)
# Exit:  non-zero when an input crashes, leaks, times out or exhausts memory; its path is printed.
# A crash found: minimise it (-minimize_crash=1), save it as tests/data/fuzz/<what-it-is>.eml,
# reproduce it through the component's public API in tests/<comp>/fuzz_regressions_test.cpp, fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${SUPPORTD_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}
sample=${SUPPORTD_FUZZ_REAL_SAMPLE:-500}
shared=../shared/corpus
start=$SECONDS

cxx=${CXX_FUZZ:-clang++-16}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (apt-get install clang-16 libclang-rt-16-dev)" >&2; exit 2; }
if [[ -z ${SUPPORTD_FUZZ_SKIP_BUILD:-} ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
    -DSUPPORTD_FUZZ=ON -DSUPPORTD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target fuzz_pipeline -j"$jobs"
fi
fuzzer=$(realpath "$build/tests/fuzz/fuzz_pipeline")
echo "fuzz: build took $((SECONDS - start)) s"

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Same limits for the replay and the campaign, so a regression input fails the same way.
limits=(-rss_limit_mb=2048 -timeout=10 ${SUPPORTD_FUZZ_MAX_LEN:+-max_len=$SUPPORTD_FUZZ_MAX_LEN})
dict=$(realpath tests/fuzz/mail.dict)

# 1. Regressions: each saved input runs once; any failure stops here.
shopt -s nullglob
regressions=(tests/data/fuzz/*)
if ((${#regressions[@]})); then
  echo "fuzz: replaying ${#regressions[@]} regression input(s) from tests/data/fuzz/"
  for f in "${regressions[@]}"; do
    if ! "$fuzzer" "${limits[@]}" "$f" >"$build/regression.log" 2>&1; then
      cat "$build/regression.log"
      echo "fuzz: regression input fails again: $(realpath "$f")" >&2
      exit 1
    fi
  done
fi

# 2. Seed corpus in a temp folder: the repo's test mail, the shared dev corpus and a deterministic
#    sample of the real corpus (round-robin over its sources, ordered by a hash of the path, so
#    every source is represented and the choice is the same on every run). Files are named by
#    content hash, so duplicates collapse.
work=$(mktemp -d "${TMPDIR:-/tmp}/supportd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/seeds" "$work/corpus"
add_seed() { cp -- "$1" "$work/seeds/$(sha1sum <"$1" | cut -c1-40)"; }
while IFS= read -r -d '' f; do add_seed "$f"; done \
  < <(find tests/data -type f \( -name '*.eml' -o -path 'tests/data/fuzz/*' \) -print0)
if [[ -d $shared ]]; then
  for f in "$shared"/dev/*.eml; do add_seed "$f"; done
  if [[ -d $shared/real ]]; then
    while IFS= read -r f; do add_seed "$shared/real/$f"; done < <(
      /usr/bin/python3 - "$shared/real" "$sample" <<'EOF'
import hashlib, itertools, os, sys
root, want = sys.argv[1], int(sys.argv[2])
by_source = {}
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x != "_meta")
    for name in files:
        path = os.path.relpath(os.path.join(d, name), root)
        if "/" not in path or name.endswith((".md", ".tsv", ".json")):
            continue
        if os.path.getsize(os.path.join(root, path)) <= 200 * 1024:
            by_source.setdefault(path.split("/")[0], []).append(path)
key = lambda p: hashlib.sha1(p.encode()).hexdigest()
queues = [sorted(v, key=key) for _, v in sorted(by_source.items())]
picked = [p for row in itertools.zip_longest(*queues) for p in row if p]
print("\n".join(picked[:want]))
EOF
    )
  fi
else
  echo "fuzz: $shared absent, seeding from tests/data only"
fi
echo "fuzz: $(find "$work/seeds" -type f | wc -l) seed inputs"

# 3. The campaign. New inputs go to the temp corpus; crashes to $build/fuzz-artifacts/ (kept).
artifacts=$(realpath "$build")/fuzz-artifacts
mkdir -p "$artifacts"
rm -f "$artifacts"/*
status=0
"$fuzzer" "${limits[@]}" -dict="$dict" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" "$work/seeds" 2>&1 | tee "$build/fuzz.log" ||
  status=$?
crashes=("$artifacts"/*)
if ((status != 0 || ${#crashes[@]})); then
  echo "fuzz: FAILED (exit $status); crashing input(s):" >&2
  for c in "${crashes[@]}"; do echo "  $c" >&2; done
  echo "fuzz: reproduce with $fuzzer INPUT; minimise with $fuzzer -minimize_crash=1 -runs=10000 INPUT" >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds} s (total $((SECONDS - start)) s)"
