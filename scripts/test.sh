#!/usr/bin/env bash
# Every test: the C++ GoogleTest suite (ctest) and the pytest suite on
# Python 3.12 and 3.13. Sets up whatever is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh 3.12 3.13

echo "== C++ tests (GoogleTest, ctest)"
venv=.venv-3.12
"$venv/bin/cmake" -S . -B build/cpp-tests -G Ninja -DSPYREC_BUILD_TESTS=ON \
    -DCMAKE_MAKE_PROGRAM="$PWD/$venv/bin/ninja" \
    -DPython_EXECUTABLE="$PWD/$venv/bin/python" >/dev/null
"$venv/bin/cmake" --build build/cpp-tests
"$venv/bin/ctest" --test-dir build/cpp-tests --output-on-failure

echo "== fuzzing the replayer's decoding for 30 s (tests/fuzz/run.sh; longer runs: run.sh SECONDS)"
tests/fuzz/run.sh 30

status=0
for v in 3.12 3.13; do
    echo "== pytest on Python $v"
    ".venv-$v/bin/python" -m pytest -q -rs -p no:cacheprovider "$@" || status=1
done
exit $status
