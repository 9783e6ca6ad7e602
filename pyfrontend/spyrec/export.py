"""Recordings as files real engines read (docs/export.md).

- Parquet (pyarrow, the `export` extra): one file per table per recording,
  `changes-<id>.parquet`, `exceptions-<id>.parquet`, `locations-<id>.parquet`,
  `processes-<id>.parquet`, so the exports of many recordings land in one
  directory and DuckDB, Spark or Trino read them together by glob. Every row
  carries `recording`, the recording's id, and `pid`.
- Perfetto: a Chrome JSON trace (the Perfetto UI and chrome://tracing open
  it): one track per process and thread, each change and exception an
  instant event at its monotonic time, with its culprit.

Both stream: a recording's changes are read and written in batches, never
all at once.
"""

from __future__ import annotations

import hashlib
import json
import os

from .errors import SpyrecError

__all__ = ["recording_id", "export_parquet", "export_perfetto", "ExportError"]

_BATCH = 8192


class ExportError(SpyrecError):
    """What stops an export; str() is one line."""


def recording_id(rec) -> str:
    """12 hex digits naming the recording among others: from where and when
    it was made and by which process (not from its path, which moves)."""
    info = rec.info()
    key = f"{info.get('cwd')}|{info.get('start_time')!r}|{info.get('pid')}|{' '.join(info.get('argv') or [])}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:12]


# ---- Parquet ----------------------------------------------------------------------


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ExportError(
            "--format parquet needs pyarrow: pip install pyarrow (or pip install 'spyrec[export]')"
        ) from None
    return pyarrow


def _schemas(pa):
    frame = pa.struct([("file", pa.string()), ("line", pa.int32()), ("function", pa.string())])
    common = [
        ("recording", pa.string()),
        ("pid", pa.int64()),
        ("seq", pa.uint64()),
        ("monotonic_ns", pa.uint64()),
        ("thread", pa.string()),
        ("thread_id", pa.uint64()),
        ("file", pa.string()),
        ("line", pa.int32()),
        ("function", pa.string()),
        ("offset", pa.int32()),
        ("opname", pa.string()),
        ("stack", pa.list_(frame)),
    ]
    changes = pa.schema(
        common
        + [
            ("expr", pa.string()),
            ("kind", pa.string()),
            ("task", pa.string()),
            ("diff", pa.list_(pa.string())),
            ("test", pa.string()),
            ("phase", pa.string()),
            ("before", pa.string()),
            ("after", pa.string()),
        ]
    )
    exceptions = pa.schema(
        common
        + [("type", pa.string()), ("message", pa.string()), ("reraised", pa.bool_()), ("frames_left_out", pa.int64())]
    )
    locations = pa.schema(
        [
            ("recording", pa.string()),
            ("pid", pa.int64()),
            ("file", pa.string()),
            ("line", pa.int32()),
            ("function", pa.string()),
            ("offset", pa.int32()),
            ("opname", pa.string()),
            ("changes", pa.int64()),
            ("exceptions", pa.int64()),
        ]
    )
    processes = pa.schema(
        [
            ("recording", pa.string()),
            ("pid", pa.int64()),
            ("parent_pid", pa.int64()),
            ("argv", pa.list_(pa.string())),
            ("cwd", pa.string()),
            ("python_version", pa.string()),
            ("start_time", pa.float64()),
            ("end_time", pa.float64()),
            ("ending", pa.string()),
            ("exit_status", pa.int32()),
            ("signal", pa.int32()),
            ("changes", pa.int64()),
            ("exceptions", pa.int64()),
            ("path", pa.string()),
        ]
    )
    return {"changes": changes, "exceptions": exceptions, "locations": locations, "processes": processes}


def _frames(stack) -> list:
    return [{"file": f.file, "line": f.line, "function": f.function} for f in stack]


def _where(item, rid: str) -> dict:
    return {
        "recording": rid,
        "pid": item.pid,
        "seq": item.seq,
        "monotonic_ns": item.monotonic_ns,
        "thread": item.thread,
        "thread_id": item.thread_id,
        "file": item.file,
        "line": item.line,
        "function": item.function,
        "offset": item.offset,
        "opname": item.opname,
        "stack": _frames(item.stack),
    }


def _json_or_none(value, exists: bool):
    return json.dumps(value, ensure_ascii=False, default=repr) if exists else None


class _TableWriter:
    """Rows to one Parquet file, a row group per batch."""

    def __init__(self, pa, path: str, schema):
        self.pa, self.schema, self.rows, self.count = pa, schema, [], 0
        self.writer = pa.parquet.ParquetWriter(path, schema)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []

    def close(self) -> int:
        self._flush()
        self.writer.close()
        return self.count


def export_parquet(rec, out_dir: str, values: bool = False) -> dict:
    """Write `rec` (with its children) as Parquet tables into `out_dir`.
    `values`: also the before/after values as JSON text (they can be large:
    a whole value per change). Returns {table: (path, rows)}."""
    pa = _pyarrow()
    schemas = _schemas(pa)
    rid = recording_id(rec)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, f"{name}-{rid}.parquet") for name in schemas}
    locations: dict = {}
    written = {}

    def located(item, column: int) -> None:
        if item.file is None:
            return
        key = (item.pid, item.file, item.line, item.function, item.offset, item.opname)
        counts = locations.setdefault(key, [0, 0])
        counts[column] += 1

    out = _TableWriter(pa, paths["changes"], schemas["changes"])
    for c in rec.changes():
        row = _where(c, rid)
        row.update(
            expr=c.expr,
            kind=c.kind,
            task=c.task,
            diff=list(c.diff_lines),
            test=c.test,
            phase=c.phase,
            before=_json_or_none(c.before, c.before_exists) if values else None,
            after=_json_or_none(c.after, c.after_exists) if values else None,
        )
        out.add(row)
        located(c, 0)
    written["changes"] = out.close()

    out = _TableWriter(pa, paths["exceptions"], schemas["exceptions"])
    for e in rec.iter_exceptions():
        row = _where(e, rid)
        row.update(type=e.type, message=e.message, reraised=e.reraised, frames_left_out=e.frames_left_out)
        out.add(row)
        located(e, 1)
    written["exceptions"] = out.close()

    out = _TableWriter(pa, paths["locations"], schemas["locations"])
    for (pid, file, line, function, offset, opname), (n_changes, n_exc) in locations.items():
        out.add(
            {
                "recording": rid,
                "pid": pid,
                "file": file,
                "line": line,
                "function": function,
                "offset": offset,
                "opname": opname,
                "changes": n_changes,
                "exceptions": n_exc,
            }
        )
    written["locations"] = out.close()

    out = _TableWriter(pa, paths["processes"], schemas["processes"])
    for process in _processes(rec):
        out.add({"recording": rid, **process})
    written["processes"] = out.close()
    return {name: (paths[name], written[name]) for name in schemas}


def _processes(rec) -> list:
    """One dict per process of `rec`: its own and its children's."""
    rows = []
    for r in [rec] + rec.children():
        info = r.info()
        ending = info.get("ending") or {}
        rows.append(
            {
                "pid": info.get("pid", 0),
                "parent_pid": info.get("parent_pid", 0),
                "argv": list(info.get("argv") or []),
                "cwd": info.get("cwd"),
                "python_version": info.get("python_version"),
                "start_time": info.get("start_time"),
                "end_time": ending.get("end_time"),
                "ending": ending.get("how"),
                "exit_status": ending.get("exit_status"),
                "signal": ending.get("signal"),
                "changes": info.get("changes", 0),
                "exceptions": info.get("exceptions", 0),
                "path": os.path.relpath(r.path, rec.path),
            }
        )
    return rows


# ---- Perfetto (Chrome JSON trace) ---------------------------------------------------


def export_perfetto(rec, out_path: str) -> int:
    """Write `rec` (with its children) as a Chrome JSON trace: a track per
    process and thread, an instant event per change and exception (`ts` in
    microseconds of CLOCK_MONOTONIC). Returns the number of events."""
    tids: dict = {}
    n = 0
    with open(out_path, "w", encoding="utf-8") as f:
        f.write('{"displayTimeUnit": "ns", "traceEvents": [\n')

        def emit(event: dict) -> None:
            nonlocal n
            f.write((",\n" if n else "") + json.dumps(event, ensure_ascii=False, default=repr))
            n += 1

        for process in _processes(rec):
            label = " ".join(process["argv"]) or "?"
            emit(
                {
                    "ph": "M",
                    "name": "process_name",
                    "pid": process["pid"],
                    "tid": 0,
                    "args": {"name": f"python {label}"},
                }
            )

        def track(item) -> int:
            key = (item.pid, item.thread_id)
            if key not in tids:
                tids[key] = len(tids) + 1
                emit(
                    {"ph": "M", "name": "thread_name", "pid": item.pid, "tid": tids[key], "args": {"name": item.thread}}
                )
            return tids[key]

        def culprit(item) -> str:
            if item.file is None:
                return "outside any Python frame"
            return f"{item.file}:{item.line} in {item.function} ({item.opname}, offset {item.offset})"

        for c in rec.changes():
            emit(
                {
                    "ph": "i",
                    "s": "t",
                    "cat": "change",
                    "name": f"{c.expr} {c.kind}",
                    "pid": c.pid,
                    "tid": track(c),
                    "ts": c.monotonic_ns / 1000,
                    "args": {"culprit": culprit(c), "seq": c.seq, "diff": list(c.diff_lines[:20])},
                }
            )
        for e in rec.iter_exceptions():
            emit(
                {
                    "ph": "i",
                    "s": "t",
                    "cat": "exception",
                    "name": e.type,
                    "pid": e.pid,
                    "tid": track(e),
                    "ts": e.monotonic_ns / 1000,
                    "args": {"culprit": culprit(e), "seq": e.seq, "message": e.message[:500], "reraised": e.reraised},
                }
            )
        f.write("\n]}\n")
    return n
