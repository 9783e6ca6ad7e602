"""A "blog-style" watchpoint monitor: the baseline spyrec must beat.

    python blog_monitor.py [--json] [--out FILE] [-w EXPR]... script.py [args...]

This is the sys.monitoring recipe that circulates in blog posts: an
INSTRUCTION callback that compares len() of the watched value with the last
len() it saw, reports the instruction *where it noticed*, and returns DISABLE
for a location when nothing changed there. It is deliberately naive, kept for
scoring (scripts/score_exactness.py); its known blind spots are what the
corpus is built around:
  - same-length changes (item assignment, sort, rebinding to an equal-length value);
  - DISABLE after a quiet run: the 200th execution of a store is never seen;
  - it blames the instruction after the culprit, and a generator's YIELD_VALUE
    or a RETURN instead of the caller's CALL;
  - no frame-exit or C-call events, so changes made in C are seen late.
Watch resolution and the output format are the oracle's, so results compare.
"""

import atexit
import json
import os
import sys
import threading
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle as _oracle  # noqa: E402  (shares watch parsing and resolution only)

sys.path.pop(0)

TOOL_ID = 4
M = sys.monitoring
E = M.events
HERE = (lambda: 0).__code__.co_filename


def _length(obj):
    if obj is _oracle.MISSING:
        return -1
    try:
        return len(obj)
    except TypeError:
        return hash(obj) if obj.__hash__ else id(obj)


class BlogMonitor:
    def __init__(self, exprs):
        self.exprs = exprs
        self.watches = [_oracle.parse_watch(e) for e in exprs]
        self.lengths = [_length(_oracle.resolve(w)) for w in self.watches]
        self.changes = []

    def on_instruction(self, code, offset):
        if code.co_filename in (HERE, _oracle.ORACLE_FILE):
            return M.DISABLE
        changed = False
        for i, w in enumerate(self.watches):
            n = _length(_oracle.resolve(w))
            if n != self.lengths[i]:
                changed = True
                self.lengths[i] = n
                line = _oracle.line_of(code, offset)
                self.changes.append(
                    {
                        "expr": self.exprs[i],
                        "seq": len(self.changes),
                        "thread": threading.current_thread().name,
                        "file": code.co_filename,
                        "line": line,
                        "function": code.co_qualname,
                        "offset": offset,
                        "opname": _oracle.opname_at(code, offset),
                        "stack": [{"file": code.co_filename, "line": line, "function": code.co_qualname}],
                        "before": None,
                        "after": n,
                    }
                )
        return None if changed else M.DISABLE


def main(argv):
    exprs, out, i = [], None, 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] in ("-w", "--watch"):
            exprs.append(argv[i + 1])
            i += 2
        elif argv[i] == "--out":
            out = argv[i + 1]
            i += 2
        elif argv[i] == "--json":
            i += 1
        else:
            raise SystemExit(f"blog_monitor: unknown option {argv[i]}")
    script, args = argv[i], argv[i + 1 :]
    path = os.path.abspath(script)
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    main_mod = types.ModuleType("__main__")
    main_mod.__dict__.update(__file__=path, __builtins__=__builtins__, __spec__=None, __cached__=None, __loader__=None)
    sys.modules["__blog__"] = sys.modules["__main__"]
    sys.modules["__main__"] = main_mod
    sys.argv[:] = [script] + args
    sys.path[0] = os.path.dirname(path)

    monitor = BlogMonitor(exprs)

    def finish():
        M.set_events(TOOL_ID, 0)
        text = json.dumps(monitor.changes, indent=1)
        if out:
            with open(out, "w") as f:
                f.write(text)
        else:
            sys.__stderr__.write(text + "\n")

    atexit.register(finish)
    M.use_tool_id(TOOL_ID, "blog-monitor")
    M.register_callback(TOOL_ID, E.INSTRUCTION, monitor.on_instruction)
    M.set_events(TOOL_ID, E.INSTRUCTION)
    exec(code, main_mod.__dict__)


if __name__ == "__main__":
    main(sys.argv[1:])
