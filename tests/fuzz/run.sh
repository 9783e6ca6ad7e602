#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes what reads
# untrusted recordings for SECONDS in all (default 60), half each:
#   fuzz_decode     one record: decoding, rendering, diffing, applying ops
#   fuzz_recording  a whole recording in LMDB: the reading layer and the queries
# seeded with a real recording and the committed corpus (corpus/<target>/).
# Whatever the fuzzer finds (a crash, a leak, a time-out, running out of
# memory) is copied into crashers/<target>/, where ctest's
# fuzz_regression_<target> replays it from then on; the run then fails, after
# both targets have run, with the finding named.
# Usage: tests/fuzz/run.sh [SECONDS]     (needs clang and libclang-rt-14-dev)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
venv=.venv-3.12
build=build/fuzz
work=$build/work

CC=clang CXX=clang++ "$venv/bin/cmake" -S . -B "$build" -G Ninja -DSPYREC_BUILD_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_MAKE_PROGRAM="$PWD/$venv/bin/ninja" \
    -DPython_EXECUTABLE="$PWD/$venv/bin/python" >/dev/null
"$venv/bin/cmake" --build "$build" --target fuzz_decode fuzz_recording fuzz_seeds >/dev/null

# Seeds: a fresh recording of seed_program.py, record by record and whole.
rm -rf "$work/rec" "$work"/seeds-*
mkdir -p "$work/seeds-decode" "$work/seeds-recording"
"$venv/bin/spyrec" run -o "$work/rec" -w __main__.STATE tests/fuzz/seed_program.py
"$build/tests/fuzz/fuzz_seeds" "$work/rec" "$work/seeds-decode"
"$build/tests/fuzz/fuzz_seeds" --recording "$work/rec" "$work/seeds-recording/seed_program"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for target in decode recording; do
    mkdir -p "$work/corpus-$target" "$work/artifacts-$target" "tests/fuzz/crashers/$target"
    status=0
    "$build/tests/fuzz/fuzz_$target" -max_total_time=$((seconds / 2)) -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts-$target/" \
        "$work/corpus-$target" "$work/seeds-$target" "tests/fuzz/corpus/$target" "tests/fuzz/crashers/$target" \
        2>"$work/fuzz-$target.log" || status=$?
    echo "== fuzz_$target: $(grep -E '^stat::number_of_executed_units' "$work/fuzz-$target.log" | awk '{print $2}') inputs"
    shopt -s nullglob
    for f in "$work/artifacts-$target"/{crash,leak,timeout,oom,slow-unit}-*; do
        mv "$f" "tests/fuzz/crashers/$target/"
        echo "fuzz: kept $(basename "$f") in tests/fuzz/crashers/$target/ (what it found: $work/fuzz-$target.log)"
    done
    if [ $status -ne 0 ]; then
        tail -n 30 "$work/fuzz-$target.log"
        failed+=("fuzz_$target")
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (logs in $work/)" >&2
    exit 1
fi
echo "fuzz: ran ${seconds}s clean"
