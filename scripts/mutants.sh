#!/usr/bin/env bash
# Mutation testing (not in CI: too slow; run it before resolving an issue and
# record the result in docs/testing.md):
#   1. mutmut (PyPI) on the front end's pure modules, each mutant run
#      against that module's own fast tests;
#   2. the curated one-line mutants of scripts/mutants.py, Python and C++,
#      each breaking one documented behaviour (C++ ones rebuild the module).
# Prints each part's kill rate. Usage: scripts/mutants.sh [--only NAME]...
# (--only is passed to scripts/mutants.py; mutmut then does not run).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv-3.12/bin/python
site=$("$py" -c 'import spyrec, os; print(os.path.dirname(spyrec.__file__))')
"$py" -m pip install -q "mutmut==2.5.1"

# module (under pyfrontend/spyrec/) -> its fast tests
declare -A fast_tests=(
    [watch_expr.py]=tests/python/test_watch_expr.py
)
if [ $# -eq 0 ]; then
    for module in "${!fast_tests[@]}"; do
        echo "== mutmut: pyfrontend/spyrec/$module against ${fast_tests[$module]}"
        cp "$site/$module" "build/$module.installed"
        rm -f .mutmut-cache
        # The tests import the installed package: copy each mutated file there.
        printf 'cp pyfrontend/spyrec/%s %s/%s && exec %s -m pytest -x -q -p no:cacheprovider %s\n' \
            "$module" "$site" "$module" "$py" "${fast_tests[$module]}" > build/mutmut-runner.sh
        "$py" -m mutmut run --paths-to-mutate "pyfrontend/spyrec/$module" --no-progress \
            --runner "bash build/mutmut-runner.sh" >/dev/null || true
        mv "build/$module.installed" "$site/$module"
        "$py" -m mutmut results | sed -n '1,60p'
        "$py" - <<'PY'
import sqlite3
rows = sqlite3.connect(".mutmut-cache").execute("select status, count(*) from Mutant group by status").fetchall()
counts = dict(rows)
total = sum(counts.values())
killed = counts.get("ok_killed", 0) + counts.get("bad_timeout", 0)   # a mutant that hangs the tests is caught too
print(f"mutmut kill rate: {killed}/{total} = {100 * killed / max(total, 1):.0f}%  {counts}")
PY
    done
fi
echo "== curated mutants (scripts/mutants.py)"
"$py" scripts/mutants.py "$@"
