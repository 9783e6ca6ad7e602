"""Recording overhead: spyrec against plain python and the other ways to watch a value.

    .venv-3.12/bin/python bench/run.py [--quick] [--python 3.12 3.13] [--runs N]
                                       [--only WORKLOAD ...] [--no-storage] [--no-docs]

For each Python (its venv .venv-X.Y must exist, spyrec installed in it), in one
run, interleaved (run 1 of every workload and mode, then run 2, ...):

  modes      plain        python script.py
             spyrec       spyrec run script.py                 (default watches)
             spyrec+10    spyrec run -w ... (10 more: bench/watched_state.py)
             floor        spyrec run with SPYREC_BENCH_FLOOR=1: the same events kept and
             floor+10     disabled, each callback returning at once (dispatch alone)
             blog         tests/oracle/blog_monitor.py          (pure-Python INSTRUCTION + DISABLE)
             settrace     bench/peers/settrace_watch.py         (line events, deepcopy + compare)
             watchpoints  bench/peers/watchpoints_run.py        (the PyPI package)
  workloads  pyperformance's pure-Python benchmarks, run as scripts from the
             installed package (pyperf --worker with a fixed loop count),
             bench/workloads/call_heavy.py, bench/workloads/import_heavy.py

Measures each child's CPU time (user + system) and peak RSS with os.wait4, and
the recording's size on disk (du). Prints CPU ratios against plain python of
the same round (median and min-max), saves bench/results/<full|quick>-X.Y.json,
and (full runs only) regenerates docs/benchmarks.md (bench/report.py); unless
--no-storage, bench/storage.py runs afterwards. Benchmarks print numbers; they
never fail by time (a peer that runs past --timeout is reported as such).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
sys.path.insert(0, BENCH)
import report  # noqa: E402
import watched_state  # noqa: E402
from child import compile_spyrec, disk_usage  # noqa: E402

MODES = ["plain", "spyrec", "floor", "spyrec+10", "floor+10", "blog", "settrace", "watchpoints"]
# The floor modes run spyrec with this set: callbacks keep and disable the
# same events, then return at once (recorder/callbacks.cpp).
FLOOR_ENV = {"SPYREC_BENCH_FLOOR": "1"}
DEFAULT_WATCHES = ["sys.path", "sys.meta_path", "sys.path_hooks", "os.environ"]
PEER_WATCHES = DEFAULT_WATCHES + watched_state.WATCHES

# pyperformance benchmark -> pyperf loop count giving ~0.3-0.5 s of CPU under plain python.
# The first eight are the set issue 4 names; --extra adds the rest to the geomean.
PYPERFORMANCE = {
    "richards": 6,
    "nbody": 4,
    "chaos": 4,
    "deltablue": 80,
    "go": 3,
    "raytrace": 1,
    "json_dumps": 30,
    "unpack_sequence": 16000,
}
EXTRA_PYPERFORMANCE = {"float": 2, "nqueens": 2, "spectral_norm": 2, "hexiom": 4}
PEERS = ("blog", "settrace", "watchpoints")
QUICK_PYPERFORMANCE = ["richards", "nbody", "json_dumps"]
SETUP_PACKAGES = ["pyperformance", "pyperf", "watchpoints"]


def venv_python(version: str) -> str:
    return os.path.join(ROOT, f".venv-{version}", "bin", "python")


def set_up(python: str) -> None:
    """Install the benchmark-only packages into the venv if missing (never at import time)."""
    check = "import pyperformance, pyperf, watchpoints"
    if subprocess.run([python, "-c", check], capture_output=True).returncode != 0:
        print(f"  installing {' '.join(SETUP_PACKAGES)} into {os.path.dirname(os.path.dirname(python))}")
        subprocess.run([python, "-m", "pip", "install", "-q", *SETUP_PACKAGES], check=False)
    if subprocess.run([python, "-c", "import spyrec._core"], capture_output=True).returncode != 0:
        raise SystemExit(f"bench: spyrec is not installed in {python} (see README: scripts/setup.sh)")
    compile_spyrec(python)


def pyperformance_dir(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import pyperformance, os; print(os.path.dirname(pyperformance.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return os.path.join(out, "data-files", "benchmarks")


def workloads(python: str, quick: bool, extra: bool, only: list | None) -> list[dict]:
    bm_dir = pyperformance_dir(python)
    loops = {**PYPERFORMANCE, **EXTRA_PYPERFORMANCE}
    names = QUICK_PYPERFORMANCE if quick else list(PYPERFORMANCE) + (list(EXTRA_PYPERFORMANCE) if extra else [])
    result = []
    for name in names:
        script = os.path.join(bm_dir, f"bm_{name}", "run_benchmark.py")
        # --worker: run in this process, no spawning, no calibration; one value of N loops.
        args = ["--worker", "--loops", str(loops[name]), "--values", "1", "--warmups", "0", "-q"]
        result.append({"name": name, "group": "pyperformance", "script": script, "args": args})
    result.append(
        {
            "name": "call_heavy",
            "group": "call-heavy",
            "script": os.path.join(BENCH, "workloads", "call_heavy.py"),
            "args": [],
        }
    )
    result.append(
        {
            "name": "import_heavy",
            "group": "import-heavy",
            "script": os.path.join(BENCH, "workloads", "import_heavy.py"),
            "args": [],
        }
    )
    if only:
        result = [w for w in result if w["name"] in only]
    return result


def command(mode: str, python: str, w: dict, rec_dir: str) -> list[str]:
    script = [w["script"], *w["args"]]
    if mode == "plain":
        return [python, *script]
    if mode in ("spyrec", "floor"):
        return [python, "-m", "spyrec", "run", "-o", rec_dir, *script]
    if mode in ("spyrec+10", "floor+10"):
        watches = [a for expr in watched_state.WATCHES for a in ("-w", expr)]
        return [python, "-m", "spyrec", "run", "-o", rec_dir, *watches, *script]
    peer_watches = [a for expr in PEER_WATCHES for a in ("-w", expr)]
    if mode == "blog":
        return [
            python,
            os.path.join(ROOT, "tests", "oracle", "blog_monitor.py"),
            "--out",
            os.devnull,
            *peer_watches,
            *script,
        ]
    if mode == "settrace":
        return [python, os.path.join(BENCH, "peers", "settrace_watch.py"), *peer_watches, *script]
    if mode == "watchpoints":
        return [python, os.path.join(BENCH, "peers", "watchpoints_run.py"), *script]
    raise ValueError(mode)


def run_child(argv: list[str], env: dict, cwd: str, timeout: float, cpu_limit: int | None = None) -> dict:
    """Run one child; its CPU time and peak RSS come from os.wait4, so nothing of ours counts.

    cpu_limit (seconds of CPU, RLIMIT_CPU) stops a slow peer by CPU time, not wall
    time, so a busy machine does not cut it short; timeout (wall) is the backstop.
    """

    def limit_cpu():
        if cpu_limit:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 2))

    err_path = os.path.join(cwd, "stderr.txt")
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            preexec_fn=limit_cpu if cpu_limit else None,
        )
        killed = threading.Event()

        def kill():
            killed.set()
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; keep Popen quiet
    out = {"cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss, "wall": wall, "status": "ok"}
    if killed.is_set() or (cpu_limit and proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)):
        out["status"] = "timeout"
    elif proc.returncode != 0:
        with open(err_path, "rb") as f:
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        out["status"] = f"exit {proc.returncode}: {tail[0][:200]}"
    return out


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "system": platform.platform()}


def bench_python(version: str, args) -> dict:
    python = venv_python(version)
    if not os.path.exists(python):
        print(f"bench: {python} missing, skipping Python {version}")
        return {}
    print(f"== Python {version} ({python})")
    set_up(python)
    full_version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    ws = workloads(python, args.quick, args.extra, args.only)
    modes = [m for m in MODES if m in args.modes]
    env = dict(os.environ)
    env["PYTHONPATH"] = BENCH + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    results = {w["name"]: {"group": w["group"], "modes": {m: [] for m in modes}} for w in ws}
    work = tempfile.mkdtemp(prefix="spyrec-bench-")
    started = time.perf_counter()
    try:
        for rep in range(args.runs):
            for w in ws:
                for mode in modes:
                    if mode in PEERS and rep >= args.peer_runs:
                        continue
                    # The peers are 10-100x slower: stop them at --peer-cap times plain's CPU time.
                    cpu_limit = None
                    if mode in PEERS:
                        cpu_limit = math.ceil(args.peer_cap * results[w["name"]]["modes"]["plain"][-1]["cpu"])
                    rec_dir = os.path.join(work, "rec")
                    shutil.rmtree(rec_dir, ignore_errors=True)
                    mode_env = {**env, **FLOOR_ENV} if mode.startswith("floor") else env
                    r = run_child(command(mode, python, w, rec_dir), mode_env, work, args.timeout, cpu_limit)
                    if mode.startswith("spyrec"):
                        r["rec_bytes"] = disk_usage(rec_dir)
                    results[w["name"]]["modes"][mode].append(r)
                    plain = results[w["name"]]["modes"]["plain"][-1]["cpu"] if "plain" in modes else None
                    ratio = f"{r['cpu'] / plain:6.2f}x" if plain else ""
                    flag = "" if r["status"] == "ok" else f"  [{r['status']}]"
                    print(
                        f"  run {rep + 1}/{args.runs} {w['name']:16} {mode:12} cpu {r['cpu']:7.3f}s {ratio}"
                        f" rss {r['rss_kb'] / 1024:6.1f}MB{flag}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data = {
        "python": version,
        "python_version": full_version,
        "kind": "quick" if args.quick else "full",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": args.runs,
        "peer_runs": min(args.peer_runs, args.runs),
        "timeout": args.timeout,
        "peer_cap": args.peer_cap,
        "modes": modes,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "loops": {k: v for k, v in {**PYPERFORMANCE, **EXTRA_PYPERFORMANCE}.items() if k in results},
        "workloads": results,
    }
    print()
    print(report.text_tables(data))
    return data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 run, 3 pyperformance benchmarks (smoke test)")
    p.add_argument("--python", nargs="+", default=["3.12", "3.13"], metavar="X.Y")
    p.add_argument("--runs", type=int, default=None, help="runs per mode and workload (default 5, quick 1)")
    p.add_argument("--only", nargs="+", metavar="WORKLOAD", help="only these workloads")
    p.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    p.add_argument("--extra", action="store_true", help=f"also run {', '.join(EXTRA_PYPERFORMANCE)}")
    p.add_argument("--peer-runs", type=int, default=3, help="rounds the peers run in (default 3; they are slow)")
    p.add_argument(
        "--peer-cap",
        type=float,
        default=None,
        help="stop a peer run at this many times plain's CPU time (default 20, quick 8)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before any run is killed")
    p.add_argument("--no-storage", action="store_true", help="skip bench/storage.py")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    if args.peer_cap is None:
        args.peer_cap = 8.0 if args.quick else 20.0
    if "plain" not in args.modes:
        args.modes = ["plain", *args.modes]
    os.makedirs(RESULTS, exist_ok=True)
    kind = "quick" if args.quick else "full"
    for version in args.python:
        data = bench_python(version, args)
        if not data:
            continue
        if not args.only:
            with open(os.path.join(RESULTS, f"{kind}-{version}.json"), "w") as f:
                json.dump(data, f, indent=1)
        if not args.no_storage:
            storage = [venv_python(version), os.path.join(BENCH, "storage.py")]
            if args.quick:
                storage.append("--quick")
            subprocess.run(storage, check=False)
        if not args.quick and not args.no_docs and not args.only:
            path = report.write_docs()  # after each Python, so a cut-short run still leaves a table
            print(f"wrote {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
