"""Storage and query benchmark: 1,000,000 recorded changes, then last-change and history.

    .venv-3.12/bin/python bench/storage.py [--quick] [--changes N] [--queries N]

Records bench/workloads/many_changes.py (`BOX[0] = i`, N times, on a one-element
list watched as `change_box.BOX`) with `spyrec run`, then reports:
  - changes/s end to end: N / wall time of the whole `spyrec run` process
    (start-up, recording, final flush), and the plain-python wall time beside it;
  - bytes per change: du of the recording / N;
  - `last_change` in-library: `spyrec._core.open_recording(dir).last_change(expr)`,
    median of --queries calls on one open Reading (target <= 1 ms), and with a
    fresh open_recording each time;
  - `spyrec query last-change` end to end through the CLI (a new process each);
  - `history` in-library (all N changes decoded), median of a few calls.
Saves bench/results/storage-<full|quick>-X.Y.json. Run it with the venv's python.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import report  # noqa: E402
from run import disk_usage, machine  # noqa: E402

PROGRAM = os.path.join(BENCH, "workloads", "many_changes.py")
WATCH = "change_box.BOX"


def timed(fn, n):
    times = []
    result = None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100,000 changes, 100 queries")
    p.add_argument("--changes", type=int, default=None)
    p.add_argument("--queries", type=int, default=None)
    args = p.parse_args(argv)
    changes = args.changes or (100_000 if args.quick else 1_000_000)
    queries = args.queries or (100 if args.quick else 1000)
    from spyrec import _core

    work = tempfile.mkdtemp(prefix="spyrec-storage-")
    rec = os.path.join(work, "rec")
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, PROGRAM, str(changes)], check=True, cwd=work)
        plain_wall = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "spyrec", "run", "-o", rec, "-w", WATCH, PROGRAM, str(changes)], check=True, cwd=work
        )
        wall = time.perf_counter() - t
        rec_bytes = disk_usage(rec)

        reading = _core.open_recording(rec)
        recorded = reading.info()["changes"]
        last_s, last = timed(lambda: reading.last_change(WATCH), queries)
        open_last_s, _ = timed(lambda: _core.open_recording(rec).last_change(WATCH), queries)
        cli_runs = 5 if args.quick else 10
        cli = [sys.executable, "-m", "spyrec", "query", "-r", rec, "last-change", WATCH]
        cli_s, _ = timed(lambda: subprocess.run(cli, check=True, capture_output=True), cli_runs)
        history_runs = 1 if args.quick else 3
        history_s, history = timed(lambda: reading.history(WATCH), history_runs)
        history_len = len(history)
        del history
    finally:
        shutil.rmtree(work, ignore_errors=True)

    data = {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "python_version": sys.version.split()[0],
        "kind": "quick" if args.quick else "full",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "program": "bench/workloads/many_changes.py",
        "watch": WATCH,
        "changes": changes,
        "recorded_changes": recorded,
        "wall_s": wall,
        "plain_wall_s": plain_wall,
        "changes_per_s": changes / wall,
        "recording_bytes": rec_bytes,
        "bytes_per_change": rec_bytes / changes,
        "queries": queries,
        "last_change_ms": last_s * 1e3,
        "open_last_change_ms": open_last_s * 1e3,
        "last_change_seq": last and last.get("seq"),
        "cli_runs": cli_runs,
        "cli_last_change_ms": cli_s * 1e3,
        "history_runs": history_runs,
        "history_ms": history_s * 1e3,
        "history_len": history_len,
    }
    os.makedirs(report.RESULTS, exist_ok=True)
    with open(os.path.join(report.RESULTS, f"storage-{data['kind']}-{data['python']}.json"), "w") as f:
        json.dump(data, f, indent=1)
    print(report.storage_section(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
