"""Recording real test suites: pytest under spyrec against plain pytest, same run.

    .venv-3.12/bin/python bench/real_suites.py [--python 3.12 3.13] [--runs 3]
                                               [--only toolz dateutil ...] [--timeout 900]

Four PyPI projects' own tests, from their sdists (pinned in SUITES; fetched
once with `pip download --no-binary :all: --no-deps` into bench/.cache/sdists,
extracted into bench/.cache/src, run in place with PYTHONPATH; the few test
requirements the venv may lack go into bench/.cache/deps-X.Y with
`pip install --target`, never into the venv). Offline after the first fetch.

Per Python, N interleaved rounds (round 1 of every suite and mode, then round
2, ...; one untimed plain warm-up per suite first, so .pyc files exist), each
suite run from its source directory as

  plain   python -m pytest -q -p no:cacheprovider PATHS
  spyrec  spyrec run -o DIR -m pytest -q -p no:cacheprovider PATHS   (default watches)

(a suite whose spyrec run timed out is not run under spyrec again: that is its result)

Measures wall time (the ratio reported), CPU and peak RSS (os.wait4), the
recording's du, and the pytest outcome: the counts of the summary line
(passed, failed, skipped, xfailed, ...) and the exit status; "same outcome"
means both are identical to plain's in every round, and names the tests that
differ. A run past --timeout is killed and reported as "timeout". The biggest
recording is kept (bench/.cache/recordings/) for bench/value_model.py.
Prints a table; saves bench/results/real-suites-X.Y.json. Never fails by time.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import child  # noqa: E402

CACHE = os.path.join(child.BENCH, ".cache")
RESULTS = os.path.join(child.BENCH, "results")
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]

# name -> sdist requirement, PYTHONPATH entries (relative to the extracted sdist),
# pytest paths, and requirements of those tests the venvs may lack.
SUITES = {
    "toolz": {"sdist": "toolz==1.2.0", "pythonpath": ["."], "paths": ["toolz"], "deps": []},
    "boltons": {
        "sdist": "boltons==26.2.0",
        "pythonpath": ["."],
        "paths": ["tests/test_iterutils.py", "tests/test_dictutils.py", "tests/test_cacheutils.py"],
        "deps": [],
    },
    "more-itertools": {
        "sdist": "more-itertools==11.2.1",
        "pythonpath": ["."],
        "paths": ["tests/test_recipes.py"],
        "deps": [],
    },
    "dateutil": {
        "sdist": "python-dateutil==4.0.0",
        "pythonpath": ["src"],
        "paths": ["tests/test_tz.py", "tests/test_relativedelta.py"],
        # pytest-cov registers the no_cover mark its conftest adds; with
        # filterwarnings = error, pytest stops at collection (exit 3) without it.
        "deps": ["tzdata", "pytest-cov", "coverage"],
    },
}
OUTCOME_ORDER = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected")


def sdist_file(requirement: str) -> str | None:
    name, version = requirement.split("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    for path in glob.glob(os.path.join(CACHE, "sdists", "*.tar.gz")):
        base = os.path.basename(path)[: -len(".tar.gz")]
        got_name, _, got_version = base.rpartition("-")
        if re.sub(r"[-_.]+", "_", got_name).lower() == stem and got_version == version:
            return path
    return None


def source_tree(suite: dict, python: str) -> str:
    """The extracted sdist, fetched on first use."""
    path = sdist_file(suite["sdist"])
    if path is None:
        print(f"  fetching {suite['sdist']} (sdist) into {CACHE}/sdists", flush=True)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                os.path.join(CACHE, "sdists"),
                suite["sdist"],
            ],
            check=True,
        )
        path = sdist_file(suite["sdist"])
    dest = os.path.join(CACHE, "src", os.path.basename(path)[: -len(".tar.gz")])
    if not os.path.isdir(dest):
        with tarfile.open(path) as tar:
            tar.extractall(os.path.join(CACHE, "src"), filter="data")
    return dest


def deps_dir(version: str, python: str, deps: list[str]) -> str:
    target = os.path.join(CACHE, f"deps-{version}")
    for dep in deps:
        if not glob.glob(os.path.join(target, f"{dep.replace('-', '_')}*")):
            print(f"  installing {dep} into {target} (pip --target)", flush=True)
            subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--target", target, dep], check=True)
    return target


def pytest_outcome(stdout_path: str, exit_status: int) -> dict:
    """Counts of pytest's last summary line ("3 failed, 120 passed, 2 skipped in 1.2s")
    and the FAILED/ERROR lines of its short summary."""
    counts, failures = {}, []
    try:
        with open(stdout_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith(("FAILED ", "ERROR ")):
            failures.append(line.split(" - ")[0])
    for line in reversed(lines):
        if re.search(r"\b(passed|failed|error|errors|skipped|no tests ran)\b.* in [\d.]+s", line):
            for n, word in re.findall(r"(\d+) ((?:subtests )?\w+)", line):
                word = {"error": "errors", "warning": "warnings"}.get(word, word)
                counts[word] = int(n)
            break
    return {"exit": exit_status, "counts": counts, "failures": sorted(failures)}


def same_outcome(a: dict, b: dict) -> bool:
    """Same exit status and the same counts; the warnings count is not an outcome."""

    def counts(o):
        return {k: v for k, v in o["counts"].items() if k != "warnings"}

    return a["exit"] == b["exit"] and counts(a) == counts(b)


def describe_outcome(o: dict) -> str:
    keys = [k for k in OUTCOME_ORDER if k in o["counts"]] + sorted(set(o["counts"]) - set(OUTCOME_ORDER))
    parts = [f"{o['counts'][k]} {k}" for k in keys if o["counts"][k]]
    return (", ".join(parts) or "no summary") + f", exit {o['exit']}"


def one_run(
    mode: str, name: str, suite: dict, python: str, src: str, env: dict, work: str, rnd: int, timeout: float
) -> dict:
    tag = f"{name}-{mode}-{rnd}"
    rec_dir = os.path.join(work, f"rec-{tag}")
    out, err = os.path.join(work, f"{tag}.out"), os.path.join(work, f"{tag}.err")
    if mode == "plain":
        argv = [python, *PYTEST, *suite["paths"]]
    else:
        argv = [child.spyrec_script(python), "run", "-o", rec_dir, *PYTEST, *suite["paths"]]
    for _attempt in range(10):
        shutil.rmtree(rec_dir, ignore_errors=True)
        stamp = child.core_stamp(python)
        r = child.run(argv, cwd=src, env=env, timeout=timeout, stdout_path=out, stderr_path=err)
        r["stderr_tail"] = child.tail(err)
        reinstalled = stamp != child.core_stamp(python) or child.looks_like_reinstall(r["stderr_tail"])
        r["core_changed_during_run"] = stamp != child.core_stamp(python)
        if mode == "plain" or not (r["status"].startswith("exit") and reinstalled):
            break
        print(f"    {tag}: spyrec was being reinstalled ({r['status']}); retrying in 60 s", flush=True)
        time.sleep(60)
        child.wait_for_spyrec(python, 30)
    r["outcome"] = pytest_outcome(out, r["exit"])
    if mode == "spyrec":
        r["recording_bytes"] = child.disk_usage(rec_dir) if os.path.isdir(rec_dir) else None
        r["recording_dir"] = rec_dir
        # spyrec's own lines (warnings, tracebacks) are on stderr; pytest's -q output is on stdout.
        r["spyrec_stderr"] = [l for l in r["stderr_tail"] if l.strip()]
    return r


def biggest_path(version: str) -> str:
    return os.path.join(CACHE, "recordings", f"real-suites-{version}-biggest")


def keep_if_biggest(version: str, r: dict) -> None:
    """Keep this Python's biggest recording for value_model.py; drop the rest (disk)."""
    keep, rec = biggest_path(version), r.get("recording_dir")
    if not rec or not os.path.isdir(rec):
        return
    if r.get("recording_bytes") and (not os.path.isdir(keep) or r["recording_bytes"] > child.disk_usage(keep)):
        shutil.rmtree(keep, ignore_errors=True)
        os.makedirs(os.path.dirname(keep), exist_ok=True)
        os.rename(rec, keep)
        with open(os.path.join(os.path.dirname(keep), f"real-suites-{version}-biggest.txt"), "w") as f:
            f.write(os.path.basename(rec) + "\n")
    else:
        shutil.rmtree(rec, ignore_errors=True)


def summarize(runs: dict) -> dict:
    plain, spy = runs["plain"], runs["spyrec"]
    pairs = [(p, s) for p, s in zip(plain, spy) if p["status"] != "timeout" and s["status"] != "timeout"]
    ok = [(p, s) for p, s in pairs if p["wall"] > 0]
    ratios = [s["wall"] / p["wall"] for p, s in ok]
    cpu_ratios = [s["cpu"] / p["cpu"] for p, s in ok if p["cpu"] > 0]
    rss_ratios = [s["rss_kb"] / p["rss_kb"] for p, s in ok if p["rss_kb"] > 0]
    sizes = [s["recording_bytes"] for s in spy if s.get("recording_bytes") is not None]
    reference = plain[0]["outcome"]
    differences = []
    for i, s in enumerate(spy):
        if s["status"] == "timeout":
            differences.append(f"round {i + 1}: spyrec timed out")
        elif not same_outcome(reference, s["outcome"]):
            extra = sorted(set(s["outcome"]["failures"]) - set(reference["failures"]))
            gone = sorted(set(reference["failures"]) - set(s["outcome"]["failures"]))
            differences.append(
                f"round {i + 1}: spyrec {describe_outcome(s['outcome'])} vs plain "
                f"{describe_outcome(reference)}"
                + (f"; only under spyrec: {extra[:10]}" if extra else "")
                + (f"; only under plain: {gone[:10]}" if gone else "")
            )
    for i, p in enumerate(plain[1:], 2):
        if not same_outcome(reference, p["outcome"]):
            differences.append(f"round {i}: plain itself gave {describe_outcome(p['outcome'])} (flaky suite)")
    return {
        "plain_wall": statistics.median([p["wall"] for p in plain if p["status"] != "timeout"] or [0]),
        "spyrec_wall": statistics.median([s["wall"] for s in spy if s["status"] != "timeout"])
        if any(s["status"] != "timeout" for s in spy)
        else None,
        "wall_ratio": statistics.median(ratios) if ratios else None,
        "wall_ratio_range": [min(ratios), max(ratios)] if ratios else None,
        "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
        "rss_ratio": statistics.median(rss_ratios) if rss_ratios else None,
        "spyrec_rss_kb": max(s["rss_kb"] for s in spy),
        "recording_bytes": statistics.median(sizes) if sizes else None,
        "recording_cut_by_timeout": any(s["status"] == "timeout" for s in spy),
        "timeouts": sum(s["status"] == "timeout" for s in spy),
        "plain_outcome": describe_outcome(reference),
        "same_outcome": not differences,
        "differences": differences,
        "runs_over_a_reinstall": sum(bool(s.get("core_changed_during_run")) for s in spy),
        "spyrec_stderr": sorted(
            {l for s in spy for l in s["spyrec_stderr"] if not re.search(r"\b(passed|failed|error)\b.* in [\d.]+s", l)}
        )[:40],
    }


def table(version: str, summary: dict, timeout: float) -> str:
    rows = [
        f"## real suites, Python {version}",
        "",
        "| suite | plain outcome | plain wall | spyrec wall | wall ratio (min-max) | CPU ratio "
        "| peak RSS spyrec (ratio) | recording (du) | same outcome |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        if s["wall_ratio"] is None:
            ratio = f">{timeout / s['plain_wall']:.0f}x (timed out)" if s["timeouts"] else "—"
        else:
            ratio = f"{s['wall_ratio']:.2f}x ({s['wall_ratio_range'][0]:.2f}-{s['wall_ratio_range'][1]:.2f})"
            if s["timeouts"]:
                ratio += f", {s['timeouts']} timed out"
        spy_wall = f"{s['spyrec_wall']:.2f} s" if s["spyrec_wall"] is not None else "timeout"
        cpu = f"{s['cpu_ratio']:.2f}x" if s["cpu_ratio"] else "—"
        rss = f"{child.mib(s['spyrec_rss_kb'] * 1024)} ({s['rss_ratio']:.2f}x)" if s["rss_ratio"] else "—"
        same = "yes" if s["same_outcome"] else "NO"
        rows.append(
            f"| {name} | {s['plain_outcome']} | {s['plain_wall']:.2f} s | {spy_wall} | {ratio} | {cpu} "
            f"| {rss} | {child.mib(s['recording_bytes'])}"
            f"{' (at timeout)' if s['recording_cut_by_timeout'] else ''} | {same} |"
        )
    notes = [f"- {name}: {d}" for name, s in summary.items() for d in s["differences"]]
    notes += [f"- {name} spyrec stderr: {l}" for name, s in summary.items() for l in s["spyrec_stderr"]]
    return "\n".join(rows + ([""] + notes if notes else []))


def bench_python(version: str, args) -> None:
    prepared = child.prepare_python(version, "real_suites", args.wait)
    if prepared is None:
        return
    python, full_version, build = prepared
    names = args.only or list(SUITES)
    trees, envs = {}, {}
    for name in names:
        suite = SUITES[name]
        trees[name] = source_tree(suite, python)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "SPYREC"))}
        path = [os.path.join(trees[name], p) for p in suite["pythonpath"]]
        if suite["deps"]:
            path.append(deps_dir(version, python, suite["deps"]))
        env["PYTHONPATH"] = os.pathsep.join(path)
        envs[name] = env
    if not args.only:
        shutil.rmtree(biggest_path(version), ignore_errors=True)
    work = os.path.join(CACHE, "runs", version)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.time()
    for name in names:  # warm-up: compiles .pyc and pytest's rewritten tests, untimed
        child.run([python, *PYTEST, *SUITES[name]["paths"]], cwd=trees[name], env=envs[name], timeout=args.timeout)
    runs = {name: {"plain": [], "spyrec": []} for name in names}
    for rnd in range(1, args.runs + 1):
        for name in names:
            for mode in ("plain", "spyrec"):
                if mode == "spyrec" and any(x["status"] == "timeout" for x in runs[name]["spyrec"]):
                    continue  # one timeout is the result; more rounds would only cost --timeout each
                r = one_run(mode, name, SUITES[name], python, trees[name], envs[name], work, rnd, args.timeout)
                runs[name][mode].append(r)
                size = f", recording {child.mib(r['recording_bytes'])}" if r.get("recording_bytes") else ""
                print(
                    f"  round {rnd} {name:15} {mode:7} {r['wall']:8.2f} s wall {r['cpu']:8.2f} s CPU  "
                    f"{r['status']:8} {describe_outcome(r['outcome'])}{size}",
                    flush=True,
                )
                if mode == "spyrec":
                    keep_if_biggest(version, r)
    summary = {name: summarize(runs[name]) for name in names}
    print()
    print(table(version, summary, args.timeout))
    kept_path = biggest_path(version)
    kept_run = os.path.join(os.path.dirname(kept_path), f"real-suites-{version}-biggest.txt")
    data = {
        "python": full_version,
        "python_exe": python,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "spyrec": build,
        "runs_per_mode": args.runs,
        "timeout_s": args.timeout,
        "seconds": round(time.time() - started, 1),
        "machine": {"nproc": os.cpu_count()},
        "commands": {"plain": ["python", *PYTEST, "PATHS"], "spyrec": ["spyrec", "run", "-o", "DIR", *PYTEST, "PATHS"]},
        "suites": {
            name: {
                "sdist": SUITES[name]["sdist"],
                "paths": SUITES[name]["paths"],
                "summary": summary[name],
                "runs": {
                    m: [
                        {k: v for k, v in r.items() if k not in ("recording_dir", "stderr_tail")} for r in runs[name][m]
                    ]
                    for m in runs[name]
                },
            }
            for name in names
        },
        "biggest_recording": {
            "path": kept_path,
            "bytes": child.disk_usage(kept_path),
            "run": open(kept_run).read().strip() if os.path.exists(kept_run) else None,
        }
        if os.path.isdir(kept_path)
        else None,
    }
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"real-suites-{version}.json")
    if args.only and os.path.exists(out):  # --only re-runs some suites: keep the others' results
        with open(out) as f:
            old = json.load(f)
        data["suites"] = {**old.get("suites", {}), **data["suites"]}
        data["partial_reruns"] = old.get("partial_reruns", []) + [
            {"suites": names, "date": data["date"], "spyrec": build}
        ]
    child.save_results(out, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    child.add_common_args(ap)
    ap.add_argument("--only", nargs="+", choices=list(SUITES))
    args = ap.parse_args()
    child.end_children_on_signal()
    for version in args.python:
        bench_python(version, args)


if __name__ == "__main__":
    main()
