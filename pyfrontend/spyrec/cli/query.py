"""`spyrec query`: answer questions about a recording.

Exit status: 0 answered; 1 the recording holds no such change (and the message
says what was watched and how to watch more); 2 bad usage or a recording that
cannot be read, with one line on stderr.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys

from . import UsageError
from .parsing import ArgumentParser


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="spyrec query", description="Ask a recording who changed what.")
    recording = argparse.ArgumentParser(add_help=False)
    recording.add_argument(
        "-r", "--recording", metavar="DIR", default=argparse.SUPPRESS, help="the recording (default: .spyrec/latest)"
    )
    parser.add_argument(
        "-r", "--recording", metavar="DIR", default=None, help="the recording (default: .spyrec/latest)"
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="question", metavar="QUESTION", required=True)
    common = [recording, as_json]
    by_test = argparse.ArgumentParser(add_help=False)
    by_test.add_argument(
        "--test",
        metavar="NODEID",
        default=None,
        help="only changes made while this test ran (pytest --spyrec recordings; "
        "a node id, or its tail such as test_app.py::test_x)",
    )
    by_pid = argparse.ArgumentParser(add_help=False)
    by_pid.add_argument(
        "--pid",
        metavar="PID",
        type=_pid,
        default=None,
        help="only this process (the recording's own or a followed child's; `query info` lists them)",
    )
    p = sub.add_parser(
        "last-change", parents=common + [by_test, by_pid], help="the last change of EXPR, in any process"
    )
    p.add_argument("expr", metavar="EXPR")
    p = sub.add_parser(
        "history", parents=common + [by_test, by_pid], help="every change of EXPR, oldest first, from every process"
    )
    p.add_argument("expr", metavar="EXPR")
    p.add_argument(
        "--file",
        metavar="FILE",
        default=None,
        help="only changes whose culprit is in FILE (a path, or its tail such as app/util.py)",
    )
    p.add_argument(
        "--function",
        metavar="NAME",
        default=None,
        help="only changes whose culprit is in this function (a qualname, or its last part)",
    )
    p.add_argument("--thread", metavar="NAME", default=None, help="only changes made by this thread (name or id)")
    p.add_argument(
        "--from", dest="seq_from", metavar="SEQ", type=_seq, default=None, help="only changes from this seq on"
    )
    p.add_argument(
        "--to", dest="seq_to", metavar="SEQ", type=_seq, default=None, help="only changes up to this seq (included)"
    )
    p = sub.add_parser(
        "value",
        parents=common + [by_pid],
        help="the value of EXPR at a seq (of the recording's own process, or --pid's)",
    )
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--at", metavar="SEQ", type=_seq, required=True)
    p = sub.add_parser(
        "exceptions",
        parents=common + [by_pid],
        help="exceptions raised while recording (each re-raise folded into its raise)",
    )
    p.add_argument("--type", metavar="NAME", default=None, help="only this exception type (KeyError, or a dotted name)")
    p.add_argument("--file", metavar="FILE", default=None, help="only those raised in FILE (a path or its tail)")
    p.add_argument("--unhandled", action="store_true", help="only the exception that ended the program")
    p.add_argument(
        "--all",
        action="store_true",
        help="also those Python raises and catches inside importlib and the signal module (left out by default)",
    )
    sub.add_parser("watches", parents=common, help="what was watched")
    sub.add_parser("info", parents=common, help="about the recording")
    sub.add_parser(
        "leaks", parents=common + [by_test], help="tests that left a watched value changed (pytest --spyrec recordings)"
    )
    return parser


def _seq(text: str) -> int:
    """A seq: a whole number from 0 (0 is the start of the recording)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a seq is a whole number from 0, not {text!r}")
    from ..api import checked_seq

    try:
        return checked_seq(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _pid(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a pid is a whole number, not {text!r}")
    return int(text)


def main(argv: list) -> int:
    from .. import api, report
    from ..watch_expr import WatchExprError, normalize

    args = build_parser().parse_args(argv)
    expr = getattr(args, "expr", None)
    if expr is not None:
        try:
            expr = normalize(expr)
        except WatchExprError as e:
            raise UsageError(str(e)) from None
    rec = api.open(args.recording)
    out = sys.stdout

    if args.question == "info":
        info = rec.info()
        if args.json:
            _dump(info)
        else:
            out.write(report.format_info(info, rec.watches()) + "\n")
        return 0
    if args.question == "watches":
        watches = rec.watches()
        if args.json:
            _dump(watches)
        else:
            out.write(report.format_watches(watches, rec.argv) + "\n")
        return 0
    pid = getattr(args, "pid", None)
    if pid is not None and pid not in rec.pids():
        raise UsageError(
            f"--pid: no process {pid} in this recording (its processes: {', '.join(map(str, rec.pids()))})"
        )
    if args.question == "exceptions":
        return _exceptions(rec, args, pid)
    test = getattr(args, "test", None)
    if test is not None:
        _check_test(rec, test)
    if args.question == "leaks":
        return _leaks(rec, args.json, test)

    watch = rec.watch_for(expr)
    if watch is None:
        if args.json:
            _dump(None if args.question == "last-change" else [])
        _not_watched(rec, expr)
        return 1
    if args.question == "value":
        missing = object()
        value = rec.value_at(expr, args.at, default=missing, pid=pid)
        exists = value is not missing
        if args.json:
            _dump({"expr": expr, "seq": args.at, "exists": exists, "value": value if exists else None})
        else:
            out.write(report.format_value(expr, args.at, exists, value) + "\n")
            last = _last_change_seq(rec, rec.pid if pid is None else pid)
            if last is not None and args.at > last:
                out.write(
                    f"(seq {args.at} is past the recording's last change, seq {last}: this is the value at the end)\n"
                )
        return 0
    if watch.get("never_found"):
        if args.json:
            _dump(None if args.question == "last-change" else [])
        reason = report.never_found_reason(expr, watch.get("unresolved_reason"), rec.argv)
        print(f"spyrec: `{expr}` was never found: {reason}", file=sys.stderr)
        return 1
    if args.question == "last-change":
        if test is None:
            change = rec.last_change(expr, pid=pid)
        else:
            last = collections.deque(rec.iter_history(expr, test=test, pid=pid), maxlen=1)
            change = last[0] if last else None
        if change is None:
            if args.json:
                _dump(None)
            _never_changed(rec, expr)
            return 1
        if args.json:
            _dump(change.to_json())
        else:
            out.write(str(change) + "\n")
        return 0
    # history: printed as it is read, so any recording's history runs in
    # bounded memory (one change at a time).
    where = _history_filters(args)
    changes = _Counted(rec.iter_history(expr, test=test, pid=pid, **where))
    if args.json:
        _dump_stream(c.to_json() for c in changes)
    else:
        whole = watch.get("expr") == expr and test is None and not where
        count = rec.change_count(expr, pid) if whole else None
        for line in report.history_lines(expr, changes, rec.cwd, count):
            out.write(line + "\n")
    if changes.n == 0:
        if where:
            print(f"spyrec: no change of {expr} matches {_describe_filters(where)}", file=sys.stderr)
        else:
            _never_changed(rec, expr)
        return 1
    return 0


def _history_filters(args) -> dict:
    """`history`'s --file/--function/--thread/--from/--to as changes() filters."""
    where = {k: getattr(args, k) for k in ("file", "function", "thread") if getattr(args, k) is not None}
    if where.get("thread", "").isdigit():
        where["thread"] = int(where["thread"])  # a thread id, not a name
    if args.seq_from is not None or args.seq_to is not None:
        if args.seq_from is not None and args.seq_to is not None and args.seq_from > args.seq_to:
            raise UsageError(f"spyrec query history: --from {args.seq_from} is after --to {args.seq_to}")
        hi = args.seq_to + 1 if args.seq_to is not None else None
        where["seq_range"] = (args.seq_from or 0, hi)
    return where


def _describe_filters(where: dict) -> str:
    parts = [f"{k} {where[k]}" for k in ("file", "function", "thread") if k in where]
    if "seq_range" in where:
        lo, hi = where["seq_range"]
        parts.append(f"seqs {lo} to {hi - 1 if hi is not None else 'the end'}")
    return ", ".join(parts)


def _check_test(rec, test: str) -> None:
    from ..api import same_test

    tests = rec.tests()
    if not tests:
        raise UsageError("--test: this recording has no tests (record with `pytest --spyrec`)")
    if not any(same_test(t, test) for t in tests):
        raise UsageError(f"--test: no test {test!r} in this recording ({len(tests)} tests ran; e.g. {tests[0]})")


def _leaks(rec, as_json: bool, test: str | None) -> int:
    from .. import report
    from ..api import same_test

    if not rec.tests():
        raise UsageError(
            "this recording has no tests, so no leaks: `spyrec query leaks` reads recordings made by `pytest --spyrec`"
        )
    leaks = [leak for leak in rec.leaks() if test is None or same_test(leak.test, test)]
    if as_json:
        _dump([leak.to_json() for leak in leaks])
    else:
        sys.stdout.write(report.format_leaks(leaks, rec.cwd) + "\n")
    return 0


def _exceptions(rec, args, pid: int | None) -> int:
    from .. import report

    hidden = []
    excs = rec.iter_exceptions(
        pid, collapse=True, type=args.type, file=args.file, unhandled=args.unhandled, internal=args.all, hidden=hidden
    )
    if args.json:
        _dump_stream(e.to_json() for e in excs)
        return 0
    cwd, n = rec.cwd, 0
    for e in excs:
        sys.stdout.write(report.format_exception(e, cwd) + "\n")
        n += 1
    if n == 0:
        asked = args.type or args.file or args.unhandled
        sys.stdout.write("no exception matches\n" if asked else "no exceptions were raised while recording\n")
    if hidden and hidden[0]:
        sys.stdout.write(
            f"({hidden[0]} raised and caught inside importlib and the signal module are left out; --all shows them)\n"
        )
    return 0


class _Counted:
    """An iterator that counts what went through it."""

    def __init__(self, items):
        self.items, self.n = items, 0

    def __iter__(self):
        for item in self.items:
            self.n += 1
            yield item


def _dump_stream(items) -> int:
    """A JSON array written element by element (the layout json.dump(indent=2)
    gives a list); returns how many elements it wrote."""
    out, n = sys.stdout, 0
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False, default=repr)
        out.write(("[\n" if n == 0 else ",\n") + "\n".join("  " + l for l in text.splitlines()))
        n += 1
    out.write("[]\n" if n == 0 else "\n]\n")
    return n


def _dump(value) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=repr)
    sys.stdout.write("\n")


def _last_change_seq(rec, pid: int):
    """The seq of process `pid`'s last change (one seek per watch; each
    process numbers its own seqs), or None if it has none."""
    seqs = [c.seq for c in (rec.last_change(w["expr"], pid=pid) for w in rec.watches()) if c is not None]
    return max(seqs, default=None)


def _watched_list(rec) -> str:
    from .. import report

    return report.watched_list(rec.watches())


def _not_watched(rec, expr: str) -> None:
    from .. import report

    print(f"spyrec: {report.not_watched_text(expr, rec.watches(), rec.argv)}", file=sys.stderr)


def _never_changed(rec, expr: str) -> None:
    ending = rec.info().get("ending") or {}
    cut = f" (the recording was cut short at seq {ending.get('cut_at_seq')})" if ending.get("recording_cut") else ""
    watch = (rec.watch_for(expr) or {}).get("expr", expr)
    what = "was watched" if watch == expr else f"is inside the watch {watch}"
    print(
        f"spyrec: {expr} {what} but never changed in this recording{cut} (it watched: {_watched_list(rec)})",
        file=sys.stderr,
    )
