"""Tables from bench results: text for the terminal, docs/benchmarks.md from bench/results/.

    python bench/report.py        # rewrite docs/benchmarks.md from the saved full results

Inputs: bench/results/full-X.Y.json (bench/run.py) and storage-full-X.Y.json
(bench/storage.py). Ratios are paired: each run of a mode is divided by the
plain-python run of the same workload in the same round.
"""

from __future__ import annotations

import glob
import json
import math
import os
import statistics

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
DOCS = os.path.join(ROOT, "docs", "benchmarks.md")

TARGETS = [  # (label, key in summary(), limit)
    ("pyperformance geomean CPU", "geomean", 2.0),
    ("call-heavy CPU", "call_heavy", 2.0),
    ("import-heavy CPU", "import_heavy", 1.15),
    ("peak RSS (worst workload)", "rss_worst", 1.2),
]
STORAGE_TARGETS = [
    ("changes/s (end to end)", "changes_per_s", 1_000_000, ">="),
    ("last-change in-library (median)", "last_change_ms", 1.0, "<="),
]


def ok_runs(runs):
    return [r for r in runs if r["status"] == "ok"]


def ratios(data, workload, mode, key="cpu"):
    """Paired ratios mode/plain for the runs where both finished; None if none did."""
    modes = data["workloads"][workload]["modes"]
    pairs = zip(modes["plain"], modes[mode])
    out = [m[key] / p[key] for p, m in pairs if p["status"] == "ok" and m["status"] == "ok" and p[key]]
    return out or None


def cell(data, workload, mode, key="cpu"):
    rs = ratios(data, workload, mode, key)
    runs = data["workloads"][workload]["modes"][mode]
    if rs is None:
        bad = runs[0]["status"] if runs else "not run"
        if bad == "timeout":
            return f">{data.get('peer_cap', 0):.0f}x (stopped)"
        return f"fails: {bad.split(': ', 1)[-1][:70]}"
    med = statistics.median(rs)
    text = f"{med:.2f}x" if len(rs) == 1 else f"{med:.2f}x ({min(rs):.2f}-{max(rs):.2f})"
    if len(rs) < len(runs):
        text += f" [{len(runs) - len(rs)} timed out/failed]"
    return text


def median_ratio(data, workload, mode, key="cpu"):
    rs = ratios(data, workload, mode, key)
    return statistics.median(rs) if rs else None


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summary(data, mode):
    ws = data["workloads"]
    pyperf = [w for w in ws if ws[w]["group"] == "pyperformance"]
    out = {
        "geomean": geomean([median_ratio(data, w, mode) for w in pyperf]) if pyperf else None,
        "geomean_complete": all(median_ratio(data, w, mode) for w in pyperf),
    }
    for w in ("call_heavy", "import_heavy"):
        out[w] = median_ratio(data, w, mode) if w in ws else None
    rss = [median_ratio(data, w, mode, "rss_kb") for w in ws]
    rss = [r for r in rss if r]
    out["rss_worst"] = max(rss) if rss else None
    out["rss_geomean"] = geomean(rss)
    recs = [
        statistics.median(r["rec_bytes"] for r in ok_runs(ws[w]["modes"][mode]))
        for w in ws
        if mode in ws[w]["modes"] and ok_runs(ws[w]["modes"][mode]) and "rec_bytes" in ws[w]["modes"][mode][0]
    ]
    out["rec_max"] = max(recs) if recs else None
    return out


def fmt(v, suffix="x"):
    return "—" if v is None else f"{v:.2f}{suffix}"


def size(n):
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def cpu_table(data, md=False):
    modes = [m for m in data["modes"] if m != "plain"]
    head = ["workload", "plain CPU s", *modes]
    rows = []
    for w, info in data["workloads"].items():
        plain = ok_runs(info["modes"]["plain"])
        rows.append(
            [
                w,
                f"{statistics.median(r['cpu'] for r in plain):.3f}" if plain else "—",
                *[cell(data, w, m) for m in modes],
            ]
        )
    rows.append(
        [
            "**geomean pyperformance**" if md else "geomean pyperformance",
            "",
            *[fmt(summary(data, m)["geomean"]) for m in modes],
        ]
    )
    return head, rows


def rss_table(data, md=False):
    modes = [m for m in data["modes"] if m != "plain"]
    head = ["workload", "plain peak RSS", *modes]
    rows = []
    for w, info in data["workloads"].items():
        plain = ok_runs(info["modes"]["plain"])
        rows.append(
            [
                w,
                f"{statistics.median(r['rss_kb'] for r in plain) / 1024:.1f} MiB" if plain else "—",
                *[fmt(median_ratio(data, w, m, "rss_kb")) for m in modes],
            ]
        )
    return head, rows


def recording_table(data):
    modes = [m for m in data["modes"] if m.startswith("spyrec")]
    head = ["workload", *[f"{m} recording" for m in modes]]
    rows = []
    for w, info in data["workloads"].items():
        row = [w]
        for m in modes:
            runs = ok_runs(info["modes"].get(m, []))
            row.append(size(statistics.median(r["rec_bytes"] for r in runs)) if runs else "—")
        rows.append(row)
    return head, rows


def target_table(data):
    """Each target against spyrec, and the floor beside it: CPython's dispatch
    of the same events alone (a floor past the limit is what stops a target)."""
    shown = ("spyrec", "floor", "spyrec+10", "floor+10")
    head = ["target", "limit", *[m for m in shown if m in data["modes"]]]
    rows = []
    sums = {m: summary(data, m) for m in head[2:]}
    for label, key, limit in TARGETS:
        row = [label, f"≤ {limit}x"]
        for m in head[2:]:
            v = sums[m][key]
            verdict = "" if m.startswith("floor") else f" {'met' if v is not None and v <= limit else 'MISSED'}"
            row.append("—" if v is None else f"{v:.2f}x{verdict}")
        rows.append(row)
    return head, rows


def render(head, rows, md):
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt_row = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([fmt_row(head), fmt_row(["-" * w for w in widths]), *map(fmt_row, rows)])


def text_tables(data):
    parts = [
        f"Python {data['python_version']} — CPU time ratio vs plain python (median, min-max of {data['runs']})",
        render(*cpu_table(data), False),
        "",
        "Peak RSS ratio vs plain python (median)",
        render(*rss_table(data), False),
        "",
        "Recording size (du, median)",
        render(*recording_table(data), False),
        "",
        "Targets",
        render(*target_table(data), False),
    ]
    return "\n".join(parts)


def storage_section(s):
    lines = [
        f"#### Storage and queries — Python {s['python_version']}"
        + (" (`--quick`: 100,000 changes)" if s.get("kind") == "quick" else ""),
        "",
        f"`{s['program']}` makes {s['changes']:,} changes to `{s['watch']}`, recorded by "
        f"`spyrec run` (default watches too); {s['recorded_changes']:,} changes in the recording.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    cps_ok = s["changes_per_s"] >= 1_000_000
    lines.append(
        f"| changes/s, end to end (spyrec run wall time) | {s['changes_per_s']:,.0f} | "
        f"≥ 1,000,000: {'met' if cps_ok else 'MISSED'} |"
    )
    lines.append(
        f"| recording run wall time / plain run wall time | {s['wall_s']:.2f} s / {s['plain_wall_s']:.2f} s | |"
    )
    lines.append(f"| bytes per change (du of recording / changes) | {s['bytes_per_change']:.1f} | |")
    lines.append(f"| recording size (du) | {size(s['recording_bytes'])} | |")
    lc_ok = s["last_change_ms"] <= 1.0
    lines.append(
        f"| `last_change` in-library, median of {s['queries']} | {s['last_change_ms']:.3f} ms | "
        f"≤ 1 ms: {'met' if lc_ok else 'MISSED'} |"
    )
    lines.append(
        f"| `open_recording` + `last_change` in-library, median of {s['queries']} | {s['open_last_change_ms']:.3f} ms | |"
    )
    lines.append(
        f"| `spyrec query last-change` CLI end to end, median of {s['cli_runs']} | {s['cli_last_change_ms']:.1f} ms | |"
    )
    lines.append(
        f"| `history` in-library ({s['history_len']:,} changes), median of {s['history_runs']} | {s['history_ms']:.1f} ms | |"
    )
    return "\n".join(lines)


def load(pattern):
    out = {}
    for path in sorted(glob.glob(os.path.join(RESULTS, pattern))):
        with open(path) as f:
            d = json.load(f)
        out[d["python"]] = d
    return out


def write_docs(path=DOCS):
    runs, storage = load("full-*.json"), load("storage-full-*.json")
    # Until a full run exists for a Python, show its latest --quick run, labelled as such.
    for kind_runs, pattern in ((runs, "quick-*.json"), (storage, "storage-quick-*.json")):
        for v, d in load(pattern).items():
            kind_runs.setdefault(v, d)
    versions = sorted(set(runs) | set(storage))
    any_data = next(iter(runs.values()), None) or next(iter(storage.values()), None)
    m = any_data["machine"] if any_data else {}
    out = [
        "# Benchmarks",
        "",
        "Recording overhead of spyrec against plain python and the other ways to watch a",
        "value (issue 4). Produced by one command; numbers are CPU time (user + system) of",
        "the child process, measured with `os.wait4`, as ratios against plain python run in",
        "the same round (each mode and workload interleaved, median of the runs, min-max in",
        "brackets). Benchmarks never fail a build; they print numbers.",
        "",
        "```",
        ".venv-3.12/bin/python bench/run.py            # full: 5 runs, both Pythons, storage, this file",
        ".venv-3.12/bin/python bench/run.py --quick    # smoke test: 1 run, 5 workloads, does not touch this file",
        "```",
        "",
        f"- Machine: {m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), {m.get('system', '?')}",
        "- Python: "
        + ", ".join(
            f"{v} ({(runs.get(v) or storage.get(v))['python_version']}, {(runs.get(v) or storage.get(v))['date']})"
            for v in versions
        ),
        "",
        "## Modes",
        "",
        "| mode | what runs |",
        "|---|---|",
        "| plain | `python script.py` |",
        "| spyrec | `spyrec run script.py`: default watches `sys.path`, `sys.meta_path`, `sys.path_hooks`, `os.environ` |",
        "| floor | `spyrec run` with `SPYREC_BENCH_FLOOR=1`: the same events kept and disabled, each callback returning at once (CPython's dispatch alone; records nothing) |",
        "| spyrec+10 | `spyrec run` with 10 more watches from `bench/watched_state.py` (lists, dicts, an object, an attribute, a subscript) |",
        "| floor+10 | the floor with those watches |",
        "| blog | `tests/oracle/blog_monitor.py`: pure-Python INSTRUCTION callback comparing `len()`, DISABLE when unchanged (inexact) |",
        "| settrace | `bench/peers/settrace_watch.py`: `sys.settrace` line events, deep copy + compare of every watched value each line |",
        "| watchpoints | the `watchpoints` package (PyPI) via `bench/peers/watchpoints_run.py`: settrace, shallow copy + compare |",
        "",
        "The peers watch the same 14 expressions as spyrec+10. `bench/sitecustomize.py` imports",
        "`watched_state` in every mode (plain included), so every watch resolves at start.",
        "Workloads: pyperformance's own benchmark files (`bm_*/run_benchmark.py` from the installed",
        "package, `--worker --loops N --values 1 --warmups 0`), `bench/workloads/call_heavy.py`,",
        "`bench/workloads/import_heavy.py` (every importable stdlib module, fresh process). Each",
        "time includes interpreter (and spyrec) start-up, as a user sees it.",
        "",
    ]
    # Real programs (bench/real_suites.py, bench/value_model.py) are written up by
    # hand in bench/real_programs.md; it is kept in front of the generated tables.
    real = os.path.join(BENCH, "real_programs.md")
    if os.path.exists(real):
        with open(real) as f:
            out += [f.read().rstrip(), ""]
    for v in versions:
        out += [f"## Python {v}", ""]
        if v in runs:
            d = runs[v]
            if d["kind"] == "quick":
                out += [
                    "**Smoke-test numbers (`--quick`: 1 run, 5 workloads), not the full run: "
                    "re-run `bench/run.py` for the table of record.**",
                    "",
                ]
            out += [
                f"{d['runs']} run(s) per mode and workload ({d.get('peer_runs', d['runs'])} for the peers), "
                f"{d['date']}, run took {d['elapsed_s']:.0f} s;"
                f" peers stopped at {d.get('peer_cap', 0):.0f}x plain.",
                "",
                "### Targets",
                "",
                render(*target_table(d), True),
                "",
                "### CPU time, ratio to plain python",
                "",
                render(*cpu_table(d, True), True),
                "",
                "### Peak RSS, ratio to plain python",
                "",
                render(*rss_table(d, True), True),
                "",
                "### Recording size (du)",
                "",
                render(*recording_table(d), True),
                "",
            ]
        if v in storage:
            out += [storage_section(storage[v]), ""]
    notes = os.path.join(BENCH, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            out += [f.read().rstrip(), ""]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


if __name__ == "__main__":
    print(write_docs())
