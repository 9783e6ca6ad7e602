#!/usr/bin/env python3
"""Score spyrec, the oracle and a blog-style monitor on the exactness corpus.

    python scripts/score_exactness.py [--python PY] [--jobs N] [CASE...]

For each case in tests/cases/ it runs the oracle (the reference), spyrec
(`spyrec run` + `spyrec query history --json`) and tests/oracle/blog_monitor.py
with the given Python (default: this one; use a .venv-3.1x python so spyrec is
importable), and prints a markdown table:

    expected   the number of changes the oracle reports (over all watches)
    spyrec ok  spyrec's histories agree with the oracle's, change for change:
               culprit (file, line, function, offset, opname), thread, kind,
               values before and after, two innermost frames
    oracle ok  the oracle's culprits all land on the case's `# culprit:` markers
    blog ok    the blog-style monitor names the oracle's culprits and threads

Never fails by score: the exit status is 0 unless the script itself breaks.
"""

import argparse
import concurrent.futures
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "oracle"))
import corpus  # noqa: E402


def same_changes(case, reference, histories, fields):
    want = corpus.by_watch(reference, case)
    for w in case.watches:
        got = histories.get(w)
        if got is None or len(got) != len(want[w]):
            return False
        if [fields(c) for c in want[w]] != [fields(c, sets_from=o) for c, o in zip(got, want[w])]:
            return False
    return True


def score(case, python):
    with tempfile.TemporaryDirectory(prefix=f"score-{case.name}-") as tmp:
        tmp = Path(tmp)
        row = {"case": case.name, "expected": "?", "spyrec": "no", "oracle": "no", "blog": "no", "note": ""}
        try:
            oracle, proc = corpus.run_monitor(corpus.ORACLE, case, tmp / "oracle.json", python)
        except Exception as e:  # a timeout is a failed row, not a crash
            row["note"] = f"oracle: {type(e).__name__}"
            return row
        if proc.returncode != 0 or oracle is None:
            row["note"] = "oracle failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
            return row
        row["expected"] = len(oracle)
        hit = {(c["file"], c["line"]) for c in oracle}
        per_watch = corpus.by_watch(oracle, case)
        if not corpus.unexpected_changes(case, oracle) and not set(case.markers) - hit and all(per_watch.values()):
            row["oracle"] = "yes"
        try:
            histories, procs = corpus.run_spyrec(case, tmp / "rec", python)
            if procs[0].returncode == 0 and same_changes(case, oracle, histories, corpus.key_fields):
                row["spyrec"] = "yes"
            elif procs[0].returncode != 0:
                row["note"] = "spyrec run failed: " + (procs[0].stderr.strip().splitlines() or ["?"])[-1]
        except Exception as e:
            row["note"] = f"spyrec: {type(e).__name__}"
        try:
            blog, proc = corpus.run_monitor(corpus.BLOG, case, tmp / "blog.json", python)
            if (
                proc.returncode == 0
                and blog is not None
                and same_changes(case, oracle, corpus.by_watch(blog, case), corpus.culprit_fields)
            ):
                row["blog"] = "yes"
        except Exception:
            pass
        return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    args = ap.parse_args()
    cases = [c for c in corpus.all_cases() if not args.cases or c.name in args.cases]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda c: score(c, args.python), cases))

    print(f"Exactness on {len(rows)} cases with `{args.python}`\n")
    print("| case | expected | spyrec ok? | oracle ok? | blog ok? | note |")
    print("| --- | ---: | :---: | :---: | :---: | --- |")
    for r in rows:
        print(f"| {r['case']} | {r['expected']} | {r['spyrec']} | {r['oracle']} | {r['blog']} | {r['note']} |")
    total = lambda k: sum(r[k] == "yes" for r in rows)  # noqa: E731
    changes = sum(r["expected"] for r in rows if isinstance(r["expected"], int))
    print(
        f"| **total** | {changes} | {total('spyrec')}/{len(rows)} | {total('oracle')}/{len(rows)}"
        f" | {total('blog')}/{len(rows)} | |"
    )


if __name__ == "__main__":
    main()
