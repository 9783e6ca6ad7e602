"""Count sys.monitoring events per opcode for one workload: where spyrec's callbacks go.

    python bench/opcode_counts.py [--top N] [--json FILE] script.py [args...]
    python bench/opcode_counts.py --pyperformance richards --loops 2

A pure-Python monitor that never returns DISABLE counts every INSTRUCTION event
by opcode name (BINARY_OP split into in-place and not, as spyrec classifies
it), plus the frame events. Each opcode is marked with spyrec's class, read
from recorder/python_version.cpp's pure-opcode list: a "pure" opcode costs
spyrec one event per code location (then DISABLE); a "kept" one costs an event
every time it runs, so the kept counts are what the recorder's hot path pays.
Slow (the monitor is Python); use small loop counts.
"""

from __future__ import annotations

import argparse
import collections
import dis
import json
import os
import re
import runpy
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
TOOL_ID = 5
M = sys.monitoring
E = M.events


def spyrec_pure_opcodes() -> set[str]:
    """The recorder's kPure names, parsed from its source so this never drifts from it."""
    with open(os.path.join(ROOT, "recorder", "python_version.cpp")) as f:
        text = f.read()
    block = re.search(r"pure_opcode_names\(\)\s*\{.*?=\s*\{(.*?)\};", text, re.S)
    return set(re.findall(r'"([A-Z_]+)"', block.group(1))) if block else set()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--pyperformance", metavar="NAME", help="run pyperformance's bm_NAME instead of a script")
    p.add_argument("--loops", type=int, default=1)
    p.add_argument("script", nargs="?")
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if a.pyperformance:
        import pyperformance

        script = os.path.join(
            os.path.dirname(pyperformance.__file__),
            "data-files",
            "benchmarks",
            f"bm_{a.pyperformance}",
            "run_benchmark.py",
        )
        args = ["--worker", "--loops", str(a.loops), "--values", "1", "--warmups", "0", "-q"]
    elif a.script:
        script, args = a.script, a.args
    else:
        p.error("a script or --pyperformance NAME")

    inplace = {i for i, (_, sym) in enumerate(dis._nb_ops) if sym.endswith("=")}
    pure = spyrec_pure_opcodes()
    decoded = {}  # code -> {offset: label}
    hits = collections.Counter()
    frames = collections.Counter()

    def label_of(code, offset):
        table = decoded.get(code)
        if table is None:
            table = {}
            for ins in dis.get_instructions(code):
                name = ins.opname
                if name == "BINARY_OP":
                    name = "BINARY_OP (in-place)" if ins.arg in inplace else "BINARY_OP"
                table[ins.offset] = name
            decoded[code] = table
        return table.get(offset, "?")

    def on_instruction(code, offset):
        hits[code, offset] += 1

    def frame_event(name):
        def cb(*_):
            frames[name] += 1

        return cb

    M.use_tool_id(TOOL_ID, "opcode-counts")
    M.register_callback(TOOL_ID, E.INSTRUCTION, on_instruction)
    events = E.INSTRUCTION
    for name in ("PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "RAISE", "RERAISE"):
        M.register_callback(TOOL_ID, getattr(E, name), frame_event(name))
        events |= getattr(E, name)
    sys.argv[:] = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    M.set_events(TOOL_ID, events)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    finally:
        M.set_events(TOOL_ID, 0)
        M.free_tool_id(TOOL_ID)

    by_op = collections.Counter()
    locations = collections.Counter()
    for (code, offset), n in hits.items():
        name = label_of(code, offset)
        by_op[name] += n
        locations[name] += 1
    total = sum(by_op.values())

    def cls(name):
        if name == "BINARY_OP":
            return "pure"
        if name == "BINARY_OP (in-place)":
            return "kept"
        return "pure" if name in pure else "kept"

    kept = sum(n for name, n in by_op.items() if cls(name) == "kept")
    pure_cost = sum(locations[name] for name in by_op if cls(name) == "pure")
    frame_total = sum(frames.values())
    print(
        f"{os.path.basename(os.path.dirname(script)) if a.pyperformance else script}: "
        f"Python {sys.version.split()[0]}, {total:,} INSTRUCTION events at {len(hits):,} locations"
    )
    print(
        f"  spyrec keeps (every execution): {kept:,} ({kept / max(total, 1):.1%}); "
        f"pure (one event per location, then DISABLE): {pure_cost:,} events; "
        f"frame events: {frame_total:,}"
    )
    print(f"  {'opcode':30} {'events':>12} {'share':>7} {'locations':>9}  spyrec")
    for name, n in by_op.most_common(a.top):
        print(f"  {name:30} {n:12,} {n / total:7.1%} {locations[name]:9,}  {cls(name)}")
    print("  frame events: " + ", ".join(f"{k} {v:,}" for k, v in frames.most_common()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "python": sys.version.split()[0],
                    "script": script,
                    "args": args,
                    "total": total,
                    "kept": kept,
                    "frame_events": dict(frames),
                    "by_opcode": {
                        k: {"events": v, "locations": locations[k], "spyrec": cls(k)} for k, v in by_op.most_common()
                    },
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
