"""The Python API: open a recording and ask it who changed what.

    rec = spyrec.open()                       # .spyrec/latest
    ch = rec.last_change("sys.path")          # a Change, or None
    print(ch)                                 # the same report as `spyrec query`
    with spyrec.record(watch=["mymod.CONFIG"]) as rec: ...

Everything here reads through `_core.Reading`; the CLI and the notebook
integration are built on this module, never on `_core` directly.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import os
import sys
from dataclasses import dataclass, field

from . import exceptions_view, report, watch_expr
from ._core import RecordingError
from .errors import NotWatchedError, SpyrecError, UsageError
from .paths import same_file

__all__ = [
    "open",
    "record",
    "Recording",
    "Change",
    "History",
    "Frame",
    "RaisedException",
    "Leak",
    "RecordingError",
    "NotWatchedError",
    "SpyrecError",
]

_MISSING = object()


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    # What the recording calls `file` in text (`In [3]` for a notebook cell).
    file_label: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict, labels: dict | None = None) -> Frame:
        file = d.get("file", "?")
        return cls(file, d.get("line", 0), d.get("function", "?"), (labels or {}).get(file))

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "function": self.function}


@dataclass(frozen=True, repr=False)
class Change:
    """One change of a watched value, and its culprit instruction.

    `before` / `after` are plain Python values rebuilt from the recorded
    snapshots (None, bool, int, float, str, list, dict; see the contract for
    bytes, sets and objects). `stack` is innermost first; `source` is the
    recorded source around the culprit, its line marked.
    """

    expr: str
    seq: int
    thread: str
    thread_id: int
    kind: str  # "modified" | "appeared" | "vanished" | "rebound"
    file: str  # co_filename of the culprit's code object
    line: int
    function: str  # co_qualname
    offset: int  # byte offset in co_code, as dis numbers it
    opname: str
    stack: list  # [Frame], innermost first
    before: object  # JSON-able
    after: object
    diff_lines: list = field(default_factory=list)
    source_line: str | None = None
    trail: list = field(default_factory=list)  # [Frame], oldest first
    before_exists: bool = True
    after_exists: bool = True
    test: str | None = None  # pytest --spyrec: the test's node id, None outside tests
    phase: str | None = None  # "setup" | "call" | "teardown" | None
    pid: int = 0  # the process that made it
    monotonic_ns: int = 0  # CLOCK_MONOTONIC when recorded: the order across processes
    process: str | None = None  # "pid N (python app.py)" when the recording has child processes
    task: str | None = None  # the asyncio Task that made it (its name), None outside one
    file_label: str | None = None  # what the recording calls `file` in text (`In [3]`)
    recording: Recording | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict, recording: Recording | None = None) -> Change:
        labels = recording.file_labels if recording is not None else {}
        return cls(
            expr=d.get("expr", ""),
            seq=d.get("seq", -1),
            thread=d.get("thread", "?"),
            thread_id=d.get("thread_id", 0),
            kind=d.get("kind", "modified"),
            file=d.get("file", "?"),
            line=d.get("line", 0),
            function=d.get("function", "?"),
            offset=d.get("offset", -1),
            opname=d.get("opname", "?"),
            stack=[Frame.from_dict(f, labels) for f in d.get("stack") or ()],
            before=d.get("before"),
            after=d.get("after"),
            diff_lines=list(d.get("diff") or ()),
            source_line=d.get("source"),
            trail=[Frame.from_dict(f, labels) for f in d.get("trail") or ()],
            before_exists=d.get("before_exists", True),
            after_exists=d.get("after_exists", True),
            test=d.get("test"),
            phase=d.get("phase"),
            pid=d.get("pid", 0),
            monotonic_ns=d.get("monotonic_ns", 0),
            process=d.get("process"),
            task=d.get("task"),
            file_label=labels.get(d.get("file")),
            recording=recording,
        )

    def diff(self) -> str:
        """The change as diff lines (`+ [0] 'animals'`), one per line."""
        return "\n".join(self.diff_lines)

    @property
    def where(self) -> str:
        """`file:line in function`, the file relative to the recording's directory."""
        return f"{report.file_text(self, report.recording_cwd(self))}:{self.line} in {self.function}"

    @property
    def culprit(self) -> Frame:
        return Frame(self.file, self.line, self.function)

    def source_context(self, before: int = 3, after: int = 3) -> list:
        """[(line number, text, is the culprit's line)] around the culprit."""
        lines = self.recording.source_lines(self.file) if self.recording else None
        if not lines or not 0 < self.line <= len(lines):
            if self.source_line is None:
                return []
            return [(self.line, self.source_line.rstrip("\n"), True)]
        lo, hi = max(1, self.line - before), min(len(lines), self.line + after)
        return [(n, lines[n - 1].rstrip("\n"), n == self.line) for n in range(lo, hi + 1)]

    @property
    def source(self) -> str:
        """The recorded source around the culprit, the culprit's line marked with '>'."""
        return "\n".join(f"{'>' if mark else ' '}{n:>5} | {text}" for n, text, mark in self.source_context())

    def to_json(self) -> dict:
        return {
            "expr": self.expr,
            "seq": self.seq,
            "kind": self.kind,
            "thread": self.thread,
            "thread_id": self.thread_id,
            "task": self.task,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "offset": self.offset,
            "opname": self.opname,
            "stack": [f.to_json() for f in self.stack],
            "before": self.before,
            "after": self.after,
            "before_exists": self.before_exists,
            "after_exists": self.after_exists,
            "diff": list(self.diff_lines),
            "trail": [f.to_json() for f in self.trail],
            "test": self.test,
            "phase": self.phase,
            "pid": self.pid,
            "monotonic_ns": self.monotonic_ns,
        }

    def __str__(self) -> str:
        return report.format_change(self)

    def __repr__(self) -> str:
        return f"<spyrec.Change {self.expr} seq {self.seq}: {self.opname} at {self.where}>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's terminal: the report
        p.text(str(self))

    def _repr_html_(self) -> str:
        from . import html

        return html.change_html(self)


class History(list):
    """The changes of one watch, oldest first: a list of Change that renders as
    a report in a terminal and as a timeline and table in a notebook."""

    def __init__(self, expr: str, changes=(), recording: Recording | None = None):
        super().__init__(changes)
        self.expr = expr
        self.recording = recording

    def __str__(self) -> str:
        return report.format_history(self.expr, self, self.recording.cwd if self.recording else None)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from . import html

        return html.history_html(self)

    def to_dataframe(self):
        """One row per change (see Recording.to_dataframe)."""
        return _dataframe(self)


@dataclass(frozen=True, repr=False)
class RaisedException:
    """An exception raised while recording, with the instruction that raised it."""

    seq: int
    thread: str
    thread_id: int
    type: str
    message: str
    reraised: bool
    file: str
    line: int
    function: str
    offset: int
    opname: str
    stack: list
    pid: int = 0
    monotonic_ns: int = 0
    process: str | None = None  # as Change.process
    # Outer frames not stored: an instruction keeps whole stacks only for its
    # first 16 raises, then its innermost frame.
    frames_left_out: int = 0
    # Re-raises folded into this raise (exceptions_view.collapse_reraises):
    # how many, and where the last one was.
    reraises: int = 0
    last_raise: Frame | None = None
    file_label: str | None = None  # as Change.file_label

    @property
    def culprit(self) -> Frame:
        return Frame(self.file, self.line, self.function, self.file_label)

    @classmethod
    def from_dict(cls, d: dict, labels: dict | None = None) -> RaisedException:
        labels = labels or {}
        return cls(
            d.get("seq", -1),
            d.get("thread", "?"),
            d.get("thread_id", 0),
            d.get("type", "?"),
            d.get("message", ""),
            bool(d.get("reraised")),
            d.get("file", "?"),
            d.get("line", 0),
            d.get("function", "?"),
            d.get("offset", -1),
            d.get("opname", "?"),
            [Frame.from_dict(f, labels) for f in d.get("stack") or ()],
            d.get("pid", 0),
            d.get("monotonic_ns", 0),
            d.get("process"),
            d.get("frames_left_out", 0),
            file_label=labels.get(d.get("file")),
        )

    def to_json(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "seq",
                "thread",
                "thread_id",
                "type",
                "message",
                "reraised",
                "file",
                "line",
                "function",
                "offset",
                "opname",
                "pid",
                "monotonic_ns",
                "frames_left_out",
                "reraises",
            )
        }
        d["last_raise"] = self.last_raise.to_json() if self.last_raise else None
        d["stack"] = [f.to_json() for f in self.stack]
        return d

    def __str__(self) -> str:
        return report.format_exception(self)

    def __repr__(self) -> str:
        return (
            f"<spyrec.RaisedException seq {self.seq}: {self.type} at "
            f"{self.file}:{self.line} in {self.function} ({self.opname})>"
        )


# Keys a test runner itself sets and removes around every test.
_RUNNER_KEYS = [("os.environ", "PYTEST_CURRENT_TEST")]


def same_test(recorded: str | None, wanted: str) -> bool:
    """Whether the node id `recorded` is `wanted`, or ends with it after a '/'."""
    if recorded is None:
        return False
    return recorded == wanted or recorded.endswith("/" + wanted.lstrip("/"))


@dataclass(frozen=True, repr=False)
class Leak:
    """A test after whose teardown a watched value differed from what it was
    when the test's setup began (`pytest --spyrec`)."""

    test: str  # node id
    expr: str  # the watch
    before: object  # JSON-able, at the start of the test's setup
    after: object  # at the end of its teardown
    before_exists: bool
    after_exists: bool
    diff_lines: list  # before -> after, one line per edit
    changes: list  # [Change] during the test, oldest first
    from_seq: int = 0
    to_seq: int = 0

    @classmethod
    def from_dict(cls, d: dict, recording: Recording) -> Leak:
        return cls(
            test=d["test"],
            expr=d["expr"],
            before=d.get("before"),
            after=d.get("after"),
            before_exists=d.get("before_exists", True),
            after_exists=d.get("after_exists", True),
            diff_lines=list(d.get("diff") or ()),
            changes=[recording._change(c) for c in d.get("changes") or ()],
            from_seq=d.get("from_seq", 0),
            to_seq=d.get("to_seq", 0),
        )

    @property
    def culprit(self) -> Change:
        """The last change during the test: what left the value as it is."""
        return self.changes[-1]

    def to_json(self) -> dict:
        return {
            "test": self.test,
            "expr": self.expr,
            "before": self.before,
            "after": self.after,
            "before_exists": self.before_exists,
            "after_exists": self.after_exists,
            "diff": list(self.diff_lines),
            "changes": [c.to_json() for c in self.changes],
        }

    def __str__(self) -> str:
        return report.format_leak(self)

    def __repr__(self) -> str:
        return f"<spyrec.Leak {self.test}: {self.expr}>"


@dataclass(frozen=True)
class ChangeFilter:
    """The filters of `changes()` and `history()`; None keeps everything."""

    file: str | None = None
    function: str | None = None
    thread: str | int | None = None
    seq_range: object = None
    test: str | None = None

    def keeps_record(self, d: dict, cwd: str | None) -> bool:
        lo, hi = _seq_bounds(self.seq_range)
        if not lo <= d.get("seq", -1) < hi:
            return False
        if self.file is not None and not same_file(d.get("file") or "", self.file, cwd):
            return False
        if self.function is not None:
            q = d.get("function") or ""
            if q != self.function and not q.endswith("." + self.function):
                return False
        return self.thread is None or self.thread in (d.get("thread"), d.get("thread_id"))

    def keeps_test(self, change) -> bool:
        return self.test is None or same_test(change.test, self.test)


MAX_SEQ = 2**64 - 1  # seqs are stored as unsigned 64-bit numbers


def checked_seq(seq) -> int:
    """`seq` as an int, or a UsageError saying what a seq is."""
    try:
        n = int(seq)
    except (TypeError, ValueError):
        raise UsageError(f"a seq is a whole number from 0, not {seq!r}") from None
    if not 0 <= n <= MAX_SEQ:
        raise UsageError(f"a seq is a whole number from 0 to {MAX_SEQ}, not {seq}")
    return n


class Recording:
    """A recording on disk.  Opened on first use; every query goes to `_core.Reading`.

    A recording and the recordings of its followed child processes
    (`DIR/children/<pid>`) answer together: changes and exceptions from every
    process, in the order of the monotonic clock recorded with each; `pid=`
    keeps one process's."""

    def __init__(self, path: str, *, _running: bool = False):
        self.path = os.path.abspath(path)
        self._reading = None
        self._running = _running
        self._sources: dict = {}
        self._labels = None
        self._marks = None
        self._children = None
        self._process = None  # "pid N (python ...)" in a recording with children
        self._summary = None  # a child's: what the parent's info() says of it
        self._pid = None
        # [(path, one-line reason)]: child recordings that could not be read (skipped).
        self.unreadable_children: list = []

    @property
    def _r(self):
        if self._running:
            raise RecordingError(f"{self.path} is still being recorded; use it after the `with` block ends")
        if self._reading is None:
            self._reading = _open_reading(self.path)
        return self._reading

    @property
    def file_labels(self) -> dict:
        """{filename: what text calls it}: `In [3]` for a notebook cell
        (stored by the %%spyrec magic; {} for other recordings)."""
        if self._labels is None:
            try:
                self._labels = self._r.file_labels()
            except RecordingError:  # optional: a damaged table costs the labels only
                self._labels = {}
        return self._labels

    # ---- what was recorded ------------------------------------------------------
    def info(self) -> dict:
        """About the recording; with child processes, `children` (pid,
        parent_pid, argv, path, ending, changes, exceptions) and
        `unreadable_children` (path, error)."""
        info = self._r.info()
        children = self.children()
        if children or self.unreadable_children:
            info["children"] = [c._summary for c in children]
            info["unreadable_children"] = [
                {"path": os.path.relpath(p, self.path), "error": e} for p, e in self.unreadable_children
            ]
        return info

    # ---- processes --------------------------------------------------------------
    def children(self) -> list:
        """The recordings of the child processes spyrec followed, as
        Recordings, oldest first. One that cannot be read is left out and
        named in `unreadable_children`."""
        if self._children is None:
            from .paths import child_dirs

            self._children = []
            for path in child_dirs(self.path):
                child = Recording(path)
                try:
                    child._summary = _process_summary(child, self.path)
                except RecordingError as e:
                    self.unreadable_children.append((path, str(e)))
                    continue
                self._children.append(child)
            if self._children:
                self._process = _process_label(self._r.info())
                for child in self._children:
                    child._process = _process_label(child._summary)
        return self._children

    @property
    def pid(self) -> int:
        """The pid of the process recorded here."""
        if self._pid is None:
            self._pid = self._r.info().get("pid", 0)
        return self._pid

    def pids(self) -> list:
        """The pids of this recording's process and of its followed children."""
        return [self.pid] + [c._summary["pid"] for c in self.children()]

    def _processes(self, pid: int | None = None) -> list:
        """This recording and its children's, or the one of process `pid`."""
        every = [self] + self.children()
        if pid is None:
            return every
        chosen = [r for r in every if r.pid == int(pid)]
        if not chosen:
            raise KeyError(f"no process {pid} in this recording (its processes: {', '.join(map(str, self.pids()))})")
        return chosen

    def watches(self) -> list:
        return self._r.watches()

    @property
    def cwd(self) -> str | None:
        return self.info().get("cwd")

    @property
    def argv(self) -> list:
        return list(self.info().get("argv") or ())

    def watched(self, expr: str) -> bool:
        """Whether the recording can answer for `expr`: it was watched, or a
        prefix of it was (`os.environ['TZ']` inside `os.environ`)."""
        return self.watch_for(expr) is not None

    def watch_for(self, expr: str) -> dict | None:
        """The watch that answers for `expr` (its own, or else the one of its
        longest watched prefix) as {id, expr, resolved_at_start, start_seq,
        ever_resolved, never_found, unresolved_reason}; None if there is none."""
        return self._target(expr)[0]

    def change_count(self, watch: str, pid: int | None = None) -> int:
        """How many changes the watch `watch` has, in every process (read
        from keys alone)."""
        expr = watch_expr.normalize(watch)
        return sum(r._r.change_count(expr) for r in self._processes(pid) if r._owns_watch(expr))

    def _owns_watch(self, expr: str) -> bool:
        return any(w.get("expr") == expr for w in self._r.watch_list())

    def _target(self, expr: str) -> tuple:
        """(watch dict or None, normalized expr, steps from the watched value to expr)."""
        parsed = watch_expr.parse(expr)
        # The records alone: watches() also counts every change.
        by_expr = {w.get("expr"): w for w in self._r.watch_list()}
        for prefix, steps in watch_expr.prefixes(parsed):
            if prefix in by_expr:
                return by_expr[prefix], parsed.expr, steps
        return None, parsed.expr, ()

    def _query_args(self, expr: str):
        """(expr, watch expr, steps) for `_core.Reading`, or None if nothing answers."""
        watch, expr, steps = self._target(expr)
        if watch is None:
            return None
        return expr, watch.get("expr"), steps

    # ---- tests (pytest --spyrec) ----------------------------------------------------
    def marks(self) -> list:
        """[(seq, test node id or None, phase or None)] by seq: where each
        test's setup, call and teardown began, and where its teardown ended
        (test None). Empty for a recording made without `pytest --spyrec`."""
        if self._marks is None:
            self._marks = [tuple(m) for m in self._r.marks()]
        return self._marks

    def test_at(self, seq: int) -> tuple:
        """(test node id, phase) running at `seq`; (None, None) outside tests."""
        marks = self.marks()
        i = bisect.bisect_left(marks, (seq,)) - 1
        return (marks[i][1], marks[i][2]) if i >= 0 else (None, None)

    def tests(self) -> list:
        """The node ids of the tests recorded, in the order they ran."""
        return list(dict.fromkeys(m[1] for m in self.marks() if m[2] == "setup"))

    def leaks(self) -> list:
        """The tests after whose teardown a watched value differed from what it
        was when their setup began: a list of Leak, in the order the tests ran.
        pytest's own os.environ['PYTEST_CURRENT_TEST'] is not a leak (a pytest
        run inside a test removes the outer run's, and that is pytest's doing)."""
        return [Leak.from_dict(d, self) for d in self._r.leaks(_RUNNER_KEYS)]

    def _change(self, d: dict) -> Change:
        if self.marks():
            d["test"], d["phase"] = self.test_at(d.get("seq", -1))
        d["pid"], d["process"] = self.pid, self._process
        return Change.from_dict(d, self)

    # ---- changes ------------------------------------------------------------------
    def _require_watched(self, expr: str) -> None:
        """NotWatchedError unless a watch answers for `expr`."""
        if self.watch_for(expr) is None:
            raise NotWatchedError(report.not_watched_text(expr, self.watches(), self.argv))

    def last_change(self, expr: str, pid: int | None = None) -> Change | None:
        """The last change of `expr` (a watch, or a sub-path of one) in any
        process (or in process `pid`); None when it never changed.
        NotWatchedError when the recording did not watch it."""
        self._require_watched(expr)
        last = None
        for r in self._processes(pid):
            args = r._query_args(expr)
            d = r._r.last_change(*args) if args else None
            if d is not None and (last is None or d.get("monotonic_ns", 0) >= last[1].get("monotonic_ns", 0)):
                last = (r, d)
        return last[0]._change(last[1]) if last else None

    def history(self, expr: str, test: str | None = None, pid: int | None = None, **where) -> History:
        """Every change of `expr`, oldest first (a list of Change). For a
        recording of any size, `iter_history` streams instead. `where`: the
        filters of `changes()` (file, function, thread, seq_range)."""
        return History(watch_expr.normalize(expr), self.iter_history(expr, test, pid, **where), self)

    def iter_history(self, expr: str, test: str | None = None, pid: int | None = None, **where):
        """Every change of `expr`, oldest first, one at a time: memory stays
        bounded by the size of the value, whatever the number of changes.
        `test`: only those made while that test ran (see `changes`); `pid`:
        only those of that process; `where`: the filters of `changes()`
        (file, function, thread, seq_range). NotWatchedError when the
        recording did not watch it."""
        self._require_watched(expr)
        keep = ChangeFilter(test=test, **where)
        return _in_time_order(r._own_history(expr, keep) for r in self._processes(pid))

    def _own_history(self, expr: str, keep: ChangeFilter):
        args = self._query_args(expr)
        if args is None:
            return
        cwd = self.cwd if keep.file is not None else None
        for d in self._r.iter_history(*args):
            if keep.keeps_record(d, cwd):
                change = self._change(d)
                if keep.keeps_test(change):
                    yield change

    def __iter__(self):
        """Every change of every watch, in time order (`changes()` filters)."""
        return self.changes()

    def changes(
        self,
        watch: str | None = None,
        file: str | None = None,
        function: str | None = None,
        thread: str | int | None = None,
        seq_range=None,
        test: str | None = None,
        pid: int | None = None,
    ):
        """Iterate over changes in time order (by seq within a process),
        keeping those that match every filter given.

        file: the culprit's file (as recorded, relative to the recording's cwd,
        or a trailing part such as 'app/util.py'); function: the qualname or its
        last part; thread: a name or a thread id; seq_range: (first, stop), a
        half-open interval like range(), or a range; test: a pytest node id
        (or its tail, e.g. 'test_app.py::test_x'), for `pytest --spyrec` recordings;
        pid: one process's changes.
        """
        keep = ChangeFilter(file=file, function=function, thread=thread, seq_range=seq_range, test=test)
        expr = watch_expr.normalize(watch) if watch is not None else None
        return _in_time_order(r._own_changes(expr, keep) for r in self._processes(pid))

    def _own_changes(self, expr, keep: ChangeFilter):
        cwd = self.cwd if keep.file is not None else None
        for d in self._r.changes():
            if expr is not None and d.get("expr") != expr:
                continue
            if keep.keeps_record(d, cwd):
                change = self._change(d)
                if keep.keeps_test(change):
                    yield change

    def value_at(self, expr: str, seq: int, default=_MISSING, pid: int | None = None):
        """The watched value (as JSON) as it was at `seq` (of process `pid`:
        every process has its own seqs and its own values; default, this
        recording's).

        Raises LookupError if it did not exist then, unless `default` is
        given; NotWatchedError (a LookupError too) if it was not watched.
        """
        seq = checked_seq(seq)
        if pid is not None:
            return self._processes(pid)[0].value_at(expr, seq, default)
        self._require_watched(expr)
        args = self._query_args(expr)
        expr = watch_expr.normalize(expr)
        exists, value = self._r.value_at(args[0], int(seq), args[1], args[2])
        if exists:
            return value
        if default is not _MISSING:
            return default
        raise LookupError(f"{expr} did not exist at seq {seq}")

    def exceptions(self) -> list:
        return list(self.iter_exceptions())

    def iter_exceptions(self, pid: int | None = None, *, collapse: bool = False, **which):
        """Raised exceptions in time order (by seq within a process), one at a
        time. `collapse`: fold each re-raise into its raise; `which`: the
        filters of exceptions_view.select (type, file, unhandled, internal,
        hidden)."""
        excs = _in_time_order(r._own_exceptions() for r in self._processes(pid))
        if collapse:
            excs = exceptions_view.collapse_reraises(excs)
        if which:
            ending = (self if pid is None else self._processes(pid)[0]).info().get("ending") or {}
            message = ending.get("message") if ending.get("how") == "exception" else None
            excs = exceptions_view.select(excs, cwd=self.cwd, ending_message=message, **which)
        return excs

    def _own_exceptions(self):
        for d in self._r.exceptions():
            d["pid"], d["process"] = self.pid, self._process
            yield RaisedException.from_dict(d, self.file_labels)

    def to_dataframe(self, **filters):
        """A pandas DataFrame, one row per change (the `changes()` filters apply):
        seq, expr, kind, thread, file, line, function, opname, offset, diff,
        before, after, pid. Needs pandas."""
        return _dataframe(self.changes(**filters))

    def plot(self, watch: str | None = None, ax=None):
        """A matplotlib chart of changes per watch over the recording (seq on
        the x axis, the running count of changes on the y axis, one step line
        per watch). Returns the Axes. Needs matplotlib."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "Recording.plot() needs matplotlib: pip install matplotlib (or spyrec[notebook])"
            ) from None
        by_watch: dict = {}
        for ch in self.changes(watch=watch):
            by_watch.setdefault(ch.expr, []).append(ch.seq)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.9 + 0.35 * max(len(by_watch), 1)))
        lines = []
        for expr, seqs in by_watch.items():
            counts = list(range(1, len(seqs) + 1))
            lines += ax.step(seqs, counts, where="post", marker="o", markersize=4, label=expr)
        ax.set_xlabel("seq")
        ax.set_ylabel("changes so far")
        ax.set_title("changes per watch")
        if lines:
            # Explicit labels: legend() alone skips labels starting with "_" (__main__.X).
            ax.legend(lines, list(by_watch), loc="upper left", fontsize="small")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
        return ax

    def source_lines(self, filename: str) -> list | None:
        """The source of `filename` as recorded, or None."""
        if filename not in self._sources:
            try:
                self._sources[filename] = self._r.source_lines(filename)
            except RecordingError:
                self._sources[filename] = None
        return self._sources[filename]

    # ---- display --------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "recording" if self._running else "closed" if self._reading is None else "open"
        return f"<spyrec.Recording {self.path!r} ({state})>"

    def __str__(self) -> str:
        return report.format_info(self.info(), self.watches())

    def _repr_html_(self) -> str:
        from . import html

        return html.recording_html(self)


_COLUMNS = (
    "seq",
    "expr",
    "kind",
    "thread",
    "file",
    "line",
    "function",
    "opname",
    "offset",
    "diff",
    "before",
    "after",
    "pid",
)


def _in_time_order(streams):
    """One stream of changes (or exceptions) from each process's, merged by
    the monotonic clock recorded with each (within a process, already in order)."""
    streams = list(streams)
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=lambda item: item.monotonic_ns)


def _process_summary(rec: Recording, root: str) -> dict:
    """What `info` says of a child process's recording (raises RecordingError)."""
    info = rec._r.info()
    return {
        "pid": info.get("pid", 0),
        "parent_pid": info.get("parent_pid", 0),
        "argv": info.get("argv") or [],
        "path": os.path.relpath(rec.path, root),
        "ending": info.get("ending"),
        "changes": info.get("changes", 0),
        "exceptions": info.get("exceptions", 0),
    }


def _process_label(info: dict) -> str:
    """`pid 4242 (python worker.py --fast)`, the argv cut short."""
    import shlex

    argv = shlex.join(info.get("argv") or [])
    if len(argv) > 50:
        argv = argv[:49] + "…"
    return f"pid {info.get('pid', '?')} (python {argv})" if argv else f"pid {info.get('pid', '?')}"


def _dataframe(changes):
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe() needs pandas: pip install pandas (or spyrec[notebook])") from None
    rows = [
        (
            c.seq,
            c.expr,
            c.kind,
            c.thread,
            c.file,
            c.line,
            c.function,
            c.opname,
            c.offset,
            c.diff(),
            c.before,
            c.after,
            c.pid,
        )
        for c in changes
    ]
    return pandas.DataFrame.from_records(rows, columns=list(_COLUMNS))


def _open_reading(path: str):
    if not os.path.lexists(path):
        raise RecordingError(f"no recording at {path}")
    if not os.path.exists(path):
        raise RecordingError(f"{path} points at {os.readlink(path)}, which does not exist")
    from . import _core

    return _core.open_recording(path)


def _seq_bounds(seq_range) -> tuple:
    if seq_range is None:
        return (-sys.maxsize, sys.maxsize)
    if isinstance(seq_range, range):
        return (seq_range.start, seq_range.stop)
    lo, hi = seq_range
    return (-sys.maxsize if lo is None else lo, sys.maxsize if hi is None else hi)


def open(path: str | None = None) -> Recording:
    """Open a recording: `path`, or `.spyrec/latest` in the current directory."""
    from .paths import default_recording

    if path is None:
        path = default_recording()
        if not os.path.lexists(path):
            raise RecordingError(
                "no recording here (.spyrec/latest does not exist); "
                "record one with `spyrec run script.py` or give a path"
            )
    rec = Recording(path)
    _ = rec._r  # fail now, not on the first question
    return rec


def _label_files(session, labels) -> None:
    # A failing labels callable costs the labels, never the recording's end.
    if labels is None:
        return
    try:
        session.label_files(labels())
    except Exception:
        pass


@contextlib.contextmanager
def record(
    watch=(),
    output: str | None = None,
    default_watches: bool = True,
    *,
    on_change=None,
    follow: int = 0,
    redact=True,
    follow_children: bool = True,
    argv=None,
    labels=None,
):
    """Record the `with` block; the Recording it yields is usable after the block.

        with spyrec.record(watch=["mymod.CONFIG"]) as rec:
            mymod.configure()
        print(rec.last_change("mymod.CONFIG"))

    `follow=N` also compares the attributes of plain objects inside watched
    values, N levels down (docs/value-model.md). `redact`: True stores the
    values of secrets (names matching DEFAULT_REDACT) as fingerprints only;
    a list of patterns adds to those; False records them as they are.
    `follow_children`: child Python processes started inside the block
    record too, into the recording's children/ (False: they do not).
    `argv`: what the recording names as its program (default: sys.argv).
    `labels`: a callable asked when the block ends for {filename: what
    readers call it} (the notebook magic names its cells `In [3]`).
    """
    from .recording_session import Session

    if isinstance(watch, str):
        watch = [watch]
    session = Session(
        watch,
        output,
        argv=argv,
        default_watches=default_watches,
        on_change=on_change,
        follow=follow,
        redact=redact,
        follow_children=follow_children,
    )
    rec = Recording(session.path, _running=True)
    session.start()
    try:
        yield rec
    except BaseException as e:
        _label_files(session, labels)
        session.stop("exception", exit_status=1, message=f"{type(e).__name__}: {e}".splitlines()[0])
        rec._running = False
        raise
    _label_files(session, labels)
    session.stop("stopped")
    rec._running = False
