#!/usr/bin/env bash
# Builds the libFuzzer target (clang, ASan + UBSan) and fuzzes the replayer's
# decoding, rendering and diffing for SECONDS (default 60), seeded with the
# records of a real recording. A crash is copied into tests/fuzz/crashers/,
# where ctest's fuzz_crashers_replay replays it from then on.
# Usage: tests/fuzz/run.sh [SECONDS]     (needs clang and libclang-rt-14-dev)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
venv=.venv-3.12
build=build/fuzz
work=$build/work
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"

CC=clang CXX=clang++ "$venv/bin/cmake" -S . -B "$build" -G Ninja -DSPYREC_BUILD_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_MAKE_PROGRAM="$PWD/$venv/bin/ninja" \
    -DPython_EXECUTABLE="$PWD/$venv/bin/python" >/dev/null
"$venv/bin/cmake" --build "$build" --target fuzz_decode fuzz_seeds >/dev/null

# Seeds: every record of a fresh recording of seed_program.py.
rm -rf "$work/rec" "$work/seeds"/*
"$venv/bin/spyrec" run -o "$work/rec" -w __main__.STATE tests/fuzz/seed_program.py
"$build/tests/fuzz/fuzz_seeds" "$work/rec" "$work/seeds"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
"$build/tests/fuzz/fuzz_decode" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$work/seeds" tests/fuzz/crashers 2>"$work/fuzz.log" || status=$?
tail -n 15 "$work/fuzz.log"
shopt -s nullglob
for f in "$work"/artifacts/crash-* "$work"/artifacts/leak-* "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
    cp "$f" tests/fuzz/crashers/
    echo "fuzz: kept $(basename "$f") in tests/fuzz/crashers/"
done
if [ $status -ne 0 ]; then
    echo "fuzz: FAILED after at most ${seconds}s (log: $work/fuzz.log)" >&2
    exit $status
fi
echo "fuzz: ran ${seconds}s clean"
