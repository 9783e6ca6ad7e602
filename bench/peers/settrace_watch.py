"""A settrace copy-and-compare watcher: the `watchpoints` way, with deep copies.

    python settrace_watch.py [-w EXPR]... script.py [args...]

On every line event of every frame, each watched value is compared with a
deep copy taken when it last changed; a difference is reported against the
line that just ran (so: the line, never the instruction). Watch expressions
are the oracle's (tests/oracle/oracle.py): module, attributes, literal
subscripts, resolved through sys.modules without importing.
"""

import copy
import os
import runpy
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "oracle"))
import oracle as _oracle  # noqa: E402  (watch parsing and resolution only)

sys.path.pop(0)


def snapshot(value):
    """A deep copy that compares equal to `value` until `value` changes."""
    if value is _oracle.MISSING:
        return ("missing",)
    if isinstance(value, os._Environ):
        return ("environ", dict(value))
    if hasattr(value, "__dict__") and not isinstance(value, type) and type(value).__eq__ is object.__eq__:
        return ("object", type(value), copy.deepcopy(vars(value)))
    return ("value", copy.deepcopy(value))


class SettraceWatcher:
    def __init__(self, exprs):
        self.exprs = exprs
        self.watches = [_oracle.parse_watch(e) for e in exprs]
        self.copies = [snapshot(_oracle.resolve(w)) for w in self.watches]
        self.changes = []

    def global_trace(self, frame, event, arg):
        return self.local_trace

    def local_trace(self, frame, event, arg):
        if event == "line":
            for i, w in enumerate(self.watches):
                now = snapshot(_oracle.resolve(w))
                if now != self.copies[i]:
                    self.copies[i] = now
                    self.changes.append((self.exprs[i], frame.f_code.co_filename, frame.f_lineno))
        return self.local_trace


def main(argv):
    exprs, i = [], 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] in ("-w", "--watch"):
            exprs.append(argv[i + 1])
            i += 2
        else:
            raise SystemExit(f"settrace_watch: unknown option {argv[i]}")
    script = argv[i]
    sys.argv[:] = argv[i:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    watcher = SettraceWatcher(exprs)
    threading.settrace(watcher.global_trace)
    sys.settrace(watcher.global_trace)
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        sys.settrace(None)
        sys.stderr.write(f"settrace_watch: {len(watcher.changes)} changes\n")


if __name__ == "__main__":
    main(sys.argv[1:])
