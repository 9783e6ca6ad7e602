#!/usr/bin/env bash
# Every test: the C++ GoogleTest suite (ctest) and the pytest suite on
# Python 3.12 and 3.13. Sets up whatever is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh 3.12 3.13

# Every part runs whatever an earlier one found; the summary at the end names
# what failed, and the exit status is 1 if anything did.
failed=()
echo "== lint: ruff check, ruff format --check (pyproject.toml [tool.ruff]), clang-format (.clang-format)"
.venv-3.12/bin/ruff check . || failed+=("ruff check")
.venv-3.12/bin/ruff format --check . || failed+=("ruff format (run: .venv-3.12/bin/ruff format .)")
git ls-files '*.cpp' '*.h' | xargs .venv-3.12/bin/clang-format --dry-run --Werror \
    || failed+=("clang-format (run: git ls-files '*.cpp' '*.h' | xargs .venv-3.12/bin/clang-format -i)")
echo "== C++ tests (GoogleTest, ctest; with the fuzz regression corpus under ASan/UBSan)"
venv=.venv-3.12
# In CI a compiler warning fails the build (SPYREC_WERROR); locally it is shown.
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
"$venv/bin/cmake" -S . -B build/cpp-tests -G Ninja -DSPYREC_BUILD_TESTS=ON -DSPYREC_WERROR=$werror \
    -DCMAKE_MAKE_PROGRAM="$PWD/$venv/bin/ninja" \
    -DPython_EXECUTABLE="$PWD/$venv/bin/python" >/dev/null
"$venv/bin/cmake" --build build/cpp-tests
"$venv/bin/ctest" --test-dir build/cpp-tests --output-on-failure || failed+=("ctest")

echo "== fuzzing what reads recordings for 30 s (tests/fuzz/run.sh; longer runs: run.sh SECONDS)"
tests/fuzz/run.sh 30 || failed+=("fuzzing (what it found is in tests/fuzz/crashers/)")

for v in 3.12 3.13; do
    echo "== pytest on Python $v"
    ".venv-$v/bin/python" -m pytest -q -rs -p no:cacheprovider "$@" || failed+=("pytest on Python $v")
done
if [ ${#failed[@]} -ne 0 ]; then
    printf '== FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "== all passed"
