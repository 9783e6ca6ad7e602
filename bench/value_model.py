"""The value model's cost: big watched values, plain python against spyrec in the same run.

    .venv-3.12/bin/python bench/value_model.py [--python 3.12 3.13] [--runs 3]
                                               [--timeout 900] [--rss-cap-gib 10]

Cases (each program watched with `-w __main__.BIG`, default watches too):

  dict-3000   BIG = {}; for i in range(3000): BIG[i] = "x" * 200
              CPU (user + system, os.wait4) of plain and spyrec, spyrec's peak
              RSS, the recording's du, and the changes `spyrec query history
              __main__.BIG --json` lists (expected: 3000 modified, after the
              watch's "appeared").
  list-5000   BIG = list(range(5000)); BIG[1000] = -2; BIG[4000] = -3; BIG.append(7)
              (one statement a line): the changes recorded (expected 3
              modified) and their diffs.
  nested-4000, nested-16000
              BIG = {}; for i in range(N): BIG[i] = {"a": i}: a container added
              to a big one at each change. Four times the changes should cost
              about four times the CPU (it was quadratic: 0.42 s -> 7.7 s).
              Counted with `query watches --json` (the history of a value
              this size would be gigabytes of JSON).
  stores-16000, stores-64000
              BIG = list(range(N)); for i in range(N): BIG[i] = -i, at module
              level (each step also writes the module's dict). Each change
              compares the list whole (memcmp): this grows with N^2, slowly.
  counts-16000
              BIG = {str(i): 0 for i in range(4000)}; 16000 times
              BIG[str(i % 4000)] += 1: a key replaced under an equal str
              built anew each time.
  query-rss   peak RSS, CPU and wall time of `spyrec query -r DIR history EXPR
              --json` (stdout read and counted by us, as cheap as /dev/null)
              on the dict-3000 recording and on the biggest recording
              bench/real_suites.py kept (EXPR: its watch with the most changes).

The programs run N times interleaved (plain, spyrec, plain, ...); the queries
run once, on the last recording. Runs past --timeout or past --rss-cap-gib of
resident memory are killed and reported as such. Prints a table; saves
bench/results/value-model-X.Y.json. Never fails by time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import child  # noqa: E402

CACHE = os.path.join(child.BENCH, ".cache")
RESULTS = os.path.join(child.BENCH, "results")
EXPR = "__main__.BIG"

CASES = {
    "dict-3000": {
        "program": 'BIG = {}\nfor i in range(3000):\n    BIG[i] = "x" * 200\n',
        "expected_modified": 3000,
        "expected_in_diffs": [],
    },
    "list-5000": {
        "program": "BIG = list(range(5000))\nBIG[1000] = -2\nBIG[4000] = -3\nBIG.append(7)\n",
        "expected_modified": 3,
        "expected_in_diffs": ["-2", "-3", "7"],
    },
    **{
        f"nested-{n}": {
            "program": f'BIG = {{}}\nfor i in range({n}):\n    BIG[i] = {{"a": i}}\n',
            "expected_modified": n,
            "expected_in_diffs": [],
            "history": False,
        }
        for n in (4000, 16000)
    },
    **{
        f"stores-{n}": {
            "program": f"BIG = list(range({n}))\nfor i in range({n}):\n    BIG[i] = -i\n",
            "expected_modified": n - 1,  # BIG[0] = -0 stores the same 0: no change
            "expected_in_diffs": [],
            "history": False,
        }
        for n in (16000, 64000)
    },
    "counts-16000": {
        "program": "BIG = {str(i): 0 for i in range(4000)}\nfor i in range(16000):\n    BIG[str(i % 4000)] += 1\n",
        "expected_modified": 16000,
        "expected_in_diffs": [],
        "history": False,
    },
}
KEEP_JSON_BYTES = 64 << 20  # history output parsed whole below this; above, entries are counted by line


class HistoryCounter:
    """Reads `query history --json` from the pipe as it comes: bytes, entries
    ("seq" keys of the top-level objects), kinds; the whole text if small."""

    ENTRY = re.compile(rb'^    "seq": ')
    KIND = re.compile(rb'^    "kind": "(\w+)"')

    def __init__(self):
        self.bytes = 0
        self.entries = 0
        self.kinds: dict[str, int] = {}
        self.chunks: list[bytes] | None = []

    def __call__(self, pipe) -> None:
        for line in pipe:
            self.bytes += len(line)
            if self.ENTRY.match(line):
                self.entries += 1
            m = self.KIND.match(line)
            if m:
                kind = m.group(1).decode()
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
            if self.chunks is not None:
                self.chunks.append(line)
                if self.bytes > KEEP_JSON_BYTES:
                    self.chunks = None

    def parsed(self) -> list | None:
        if not self.chunks:
            return None
        try:
            data = json.loads(b"".join(self.chunks))
        except ValueError:
            return None
        return data if isinstance(data, list) else None


def query_history(python: str, rec: str, expr: str, args, work: str) -> tuple[dict, HistoryCounter]:
    counter = HistoryCounter()
    err = os.path.join(work, "query.err")
    r = child.run(
        [child.spyrec_script(python), "query", "-r", rec, "history", expr, "--json"],
        cwd=work,
        timeout=args.timeout,
        stdout_consumer=counter,
        stderr_path=err,
        rss_cap=int(args.rss_cap_gib * (1 << 30)),
    )
    r["stderr_tail"] = child.tail(err, 5)
    r["output_bytes"] = counter.bytes
    r["entries"] = counter.entries
    r["kinds"] = counter.kinds
    r["recording"] = rec
    r["recording_bytes"] = child.disk_usage(rec)
    r["expr"] = expr
    return r, counter


def short(value, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def run_case(name: str, case: dict, python: str, env: dict, work: str, args) -> dict:
    case_dir = os.path.join(work, name)
    os.makedirs(case_dir)
    program = os.path.join(case_dir, "program.py")
    with open(program, "w") as f:
        f.write(case["program"])
    runs = {"plain": [], "spyrec": []}
    rec = None
    for rnd in range(1, args.runs + 1):
        for mode in ("plain", "spyrec"):
            if mode == "spyrec" and any(x["status"] == "timeout" for x in runs["spyrec"]):
                continue
            if mode == "plain":
                argv = [python, program]
            else:
                if rec:
                    shutil.rmtree(rec, ignore_errors=True)
                rec = os.path.join(case_dir, f"rec-{rnd}")
                argv = [child.spyrec_script(python), "run", "-o", rec, "-w", EXPR, program]
            err = os.path.join(case_dir, f"{mode}-{rnd}.err")
            for _attempt in range(10):
                stamp = child.core_stamp(python)
                r = child.run(argv, cwd=case_dir, env=env, timeout=args.timeout, stderr_path=err)
                r["stderr_tail"] = child.tail(err, 10)
                reinstalled = stamp != child.core_stamp(python) or child.looks_like_reinstall(r["stderr_tail"])
                if mode == "plain" or not (r["status"].startswith("exit") and reinstalled):
                    break
                print(f"    {name} {mode}: spyrec was being reinstalled ({r['status']}); retrying in 60 s", flush=True)
                time.sleep(60)
                child.wait_for_spyrec(python, 30)
                if rec:
                    shutil.rmtree(rec, ignore_errors=True)
            if mode == "spyrec":
                r["recording_bytes"] = child.disk_usage(rec)
            runs[mode].append(r)
            print(
                f"  round {rnd} {name:10} {mode:7} {r['cpu']:7.2f} s CPU {r['wall']:7.2f} s wall "
                f"{child.mib(r['rss_kb'] * 1024):>10} RSS {r['status']}"
                + (f", recording {child.mib(r['recording_bytes'])}" if mode == "spyrec" else ""),
                flush=True,
            )
    done = [r for r in runs["spyrec"] if r["status"] != "timeout"]
    plain_cpu = statistics.median(r["cpu"] for r in runs["plain"])
    result = {
        "program": case["program"],
        "watch": EXPR,
        "runs": runs,
        "plain_cpu": plain_cpu,
        "spyrec_cpu": statistics.median(r["cpu"] for r in done) if done else None,
        "spyrec_wall": statistics.median(r["wall"] for r in done) if done else None,
        "spyrec_rss_kb": max(r["rss_kb"] for r in runs["spyrec"]),
        "plain_rss_kb": max(r["rss_kb"] for r in runs["plain"]),
        "recording_bytes": runs["spyrec"][-1]["recording_bytes"],
        "spyrec_status": sorted({r["status"] for r in runs["spyrec"]}),
        "spyrec_stderr": sorted({l for r in runs["spyrec"] for l in r["stderr_tail"] if l.strip()})[:20],
        "expected_modified": case["expected_modified"],
        "recording_dir": rec,
    }
    if not case.get("history", True):
        changes = watch_changes(python, rec, EXPR)
        result["query"] = None
        result["count_method"] = "query watches"
        result["changes"] = changes
        result["modified"] = None if changes is None else changes - 1  # after the watch's "appeared"
        result["as_expected"] = result["modified"] == case["expected_modified"]
        print(f"  query watches {name}: {changes} changes of {EXPR}", flush=True)
        return result
    q, counter = query_history(python, rec, EXPR, args, case_dir)
    print(
        f"  query history {name}: {q['status']}, {q['wall']:.2f} s wall, {child.mib(q['rss_kb'] * 1024)} RSS, "
        f"{child.mib(q['output_bytes'])} of JSON, {q['entries']} entries {q['kinds']}",
        flush=True,
    )
    result["query"] = q
    entries = counter.parsed()
    if entries is not None:
        result["count_method"] = "json.loads"
        kinds = [e.get("kind") for e in entries]
        result["changes"] = len(entries)
        result["modified"] = sum(k not in ("appeared", None) for k in kinds) if any(kinds) else len(entries)
        result["kinds"] = {k: kinds.count(k) for k in set(kinds)}
        result["diffs"] = [
            {
                "seq": e.get("seq"),
                "kind": e.get("kind"),
                "line": e.get("line"),
                "opname": e.get("opname"),
                "diff": short(e.get("diff")),
            }
            for e in entries[:10]
        ]
    else:
        result["count_method"] = "lines"  # too big to parse here: "seq" keys of the entries
        result["changes"] = counter.entries
        result["modified"] = counter.entries - counter.kinds.get("appeared", 0)
        result["kinds"] = counter.kinds
    result["as_expected"] = q["status"] == "ok" and result["modified"] == case["expected_modified"]
    if entries is not None:
        # Each change must say what changed: a non-empty diff, holding the new value where we know it.
        modified = [e for e in entries if e.get("kind") != "appeared"]
        result["empty_diffs"] = sum(not e.get("diff") for e in modified)
        for e, want in zip(modified, case["expected_in_diffs"]):
            if not re.search(rf"(?<![\d-]){re.escape(want)}(?!\d)", json.dumps(e.get("diff"))):
                result.setdefault("diffs_missing", []).append(f"seq {e.get('seq')}: no {want}")
        result["as_expected"] = result["as_expected"] and not result["empty_diffs"] and not result.get("diffs_missing")
    return result


def recorded_watches(python: str, rec: str) -> list[dict]:
    out = subprocess.run(
        [child.spyrec_script(python), "query", "-r", rec, "watches", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        watches = json.loads(out.stdout)
    except ValueError:
        return []
    return [w for w in watches if isinstance(w, dict) and w.get("expr")] if isinstance(watches, list) else []


def busiest_watch(python: str, rec: str) -> str | None:
    watches = recorded_watches(python, rec)
    return max(watches, key=lambda w: w.get("changes") or 0)["expr"] if watches else None


def watch_changes(python: str, rec: str, expr: str) -> int | None:
    return next((w.get("changes") for w in recorded_watches(python, rec) if w["expr"] == expr), None)


def table(version: str, cases: dict, queries: list[dict]) -> str:
    rows = [
        f"## value model, Python {version}",
        "",
        "| case | plain CPU | spyrec CPU (ratio) | spyrec peak RSS | recording (du) | modified changes (expected) "
        "| history --json: wall, CPU, peak RSS, output |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in cases.items():
        q = c["query"]
        spy = (
            f"{c['spyrec_cpu']:.2f} s ({c['spyrec_cpu'] / c['plain_cpu']:.1f}x)"
            if c["spyrec_cpu"] is not None
            else "timeout"
        )
        query = (
            f"{q['wall']:.2f} s, {q['cpu']:.2f} s, {child.mib(q['rss_kb'] * 1024)}, "
            f"{child.mib(q['output_bytes'])}" + ("" if q["status"] == "ok" else f" ({q['status']})")
            if q
            else "not run (counted by `query watches`)"
        )
        rows.append(
            f"| {name} | {c['plain_cpu']:.3f} s | {spy} | {child.mib(c['spyrec_rss_kb'] * 1024)} "
            f"| {child.mib(c['recording_bytes'])} | {c['modified']} ({c['expected_modified']})"
            f"{'' if c['as_expected'] else ' WRONG'}"
            f"{', {} empty diffs'.format(c['empty_diffs']) if c.get('empty_diffs') else ''} | {query} |"
        )
    rows += [
        "",
        "| query-rss: recording | size (du) | EXPR | entries | wall | CPU | peak RSS | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in queries:
        rows.append(
            f"| {q['label']} | {child.mib(q['recording_bytes'])} | {q['expr']} | {q['entries']} "
            f"| {q['wall']:.2f} s | {q['cpu']:.2f} s | {child.mib(q['rss_kb'] * 1024)} | {q['status']} |"
        )
    for name, c in cases.items():
        if c.get("diffs"):
            rows += ["", f"{name} changes (first 10):"]
            rows += [f"  seq {d['seq']} {d['kind']} line {d['line']} {d['opname']}: {d['diff']}" for d in c["diffs"]]
        for line in c["spyrec_stderr"]:
            rows.append(f"  {name} spyrec stderr: {line}")
    return "\n".join(rows)


def bench_python(version: str, args) -> None:
    prepared = child.prepare_python(version, "value_model", args.wait)
    if prepared is None:
        return
    python, full_version, build = prepared
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SPYREC"))}
    work = os.path.join(CACHE, "value-model", version)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.time()
    cases = {name: run_case(name, case, python, env, work, args) for name, case in CASES.items()}
    queries = [{**cases["dict-3000"]["query"], "label": "dict-3000"}]
    suites = os.path.join(CACHE, "recordings", f"real-suites-{version}-biggest")
    if os.path.isdir(suites):
        expr = busiest_watch(python, suites)
        if expr:
            q, _ = query_history(python, suites, expr, args, work)
            queries.append({**q, "label": "real suites' biggest"})
            print(
                f"  query history on {suites} {expr}: {q['status']}, {q['wall']:.2f} s, "
                f"{child.mib(q['rss_kb'] * 1024)} RSS",
                flush=True,
            )
    else:
        print(f"  no {suites}: run bench/real_suites.py first for the real-suite query")
    biggest = max(queries, key=lambda q: q["recording_bytes"])
    print()
    print(table(version, cases, queries))
    data = {
        "python": full_version,
        "python_exe": python,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "spyrec": build,
        "runs_per_mode": args.runs,
        "timeout_s": args.timeout,
        "rss_cap_gib": args.rss_cap_gib,
        "seconds": round(time.time() - started, 1),
        "cases": {name: {k: v for k, v in c.items() if k != "recording_dir"} for name, c in cases.items()},
        "query_rss": queries,
        "biggest_recording": biggest["label"],
    }
    child.save_results(os.path.join(RESULTS, f"value-model-{version}.json"), data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    child.add_common_args(ap)
    ap.add_argument("--rss-cap-gib", type=float, default=10, help="kill a run past this resident memory")
    args = ap.parse_args()
    child.end_children_on_signal()
    for version in args.python:
        bench_python(version, args)


if __name__ == "__main__":
    main()
