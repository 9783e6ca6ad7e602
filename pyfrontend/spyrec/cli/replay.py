"""`spyrec replay --break-before ...`: run the recorded program again and stop in
pdb just before the culprit instruction of a change executes.

Only the culprit's code object is instrumented: PY_START (globally, disabled
per code object after its first look) finds it, then INSTRUCTION events on that
code object alone count executions of the culprit's offset.  INSTRUCTION
events fire *before* the instruction runs, which is exactly where we stop.

Which execution to stop at: the first, from the k-th on (k = this culprit's
changes up to and including the target, each of which was one execution), at
which the whole watched value equals what the recording had just before the
change. (The recording does not count executions of an instruction that
changed nothing: counting every execution would cost every instruction.)
"""

from __future__ import annotations

import os
import sys

from . import UsageError, fail
from .parsing import ArgumentParser


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="spyrec replay", description="Re-run the recorded program and open pdb just before a change."
    )
    parser.add_argument("-r", "--recording", metavar="DIR", default=None)
    parser.add_argument(
        "--break-before",
        nargs="+",
        required=True,
        metavar="WHAT",
        help="last-change EXPR | change EXPR N (the N-th change, from 1; -1 is the last, -2 the one before) | seq SEQ",
    )
    return parser


def _target(rec, what: list):
    from ..watch_expr import WatchExprError, normalize

    kind, rest = what[0], what[1:]
    try:
        if kind == "last-change" and len(rest) == 1:
            expr = normalize(rest[0])
            change = rec.last_change(expr, pid=rec.pid) if rec.watched(expr) else None
            if change is None:
                return None, f"the recording has no change of {expr}"
            return change, None
        if kind == "change" and len(rest) == 2:
            expr = normalize(rest[0])
            n = int(rest[1])
            if n == 0:
                raise UsageError("spyrec replay: in change EXPR N, N counts from 1 (and -1 is the last change)")
            history = rec.history(expr, pid=rec.pid) if rec.watched(expr) else []
            if not history:
                return None, f"the recording has no change of {expr}"
            if abs(n) > len(history):
                times = "once" if len(history) == 1 else f"{len(history)} times"
                return None, f"{expr} changed {times}: there is no change {n}"
            return history[n - 1 if n > 0 else n], None
        if kind == "seq" and len(rest) == 1:
            seq = int(rest[0])
            for change in rec.changes(seq_range=(seq, seq + 1), pid=rec.pid):
                return change, None
            return None, f"the recording has no change at seq {seq}"
    except WatchExprError as e:
        raise UsageError(str(e)) from None
    except UsageError:
        raise
    except ValueError:
        raise UsageError("spyrec replay: N and SEQ are integers") from None
    raise UsageError("spyrec replay: --break-before takes last-change EXPR, change EXPR N or seq SEQ")


def main(argv: list) -> int:
    from .. import api, report
    from ..program import Program, ProgramError, die_by_signal

    args = build_parser().parse_args(argv)
    rec = api.open(args.recording)
    change, why = _target(rec, args.break_before)
    if change is None:
        print(f"spyrec: {why}", file=sys.stderr)
        return 1
    info = rec.info()
    _check_same_python(info)
    argv_ = list(info.get("argv") or ())
    if not argv_:
        raise UsageError("the recording does not say what program it ran")
    if argv_[0] == report.CELL_PROGRAM:
        raise UsageError("the recording is of a notebook cell (%%spyrec): replay re-runs programs, not cells")
    if info.get("cwd"):
        try:
            os.chdir(info["cwd"])
        except OSError as e:
            raise UsageError(f"cannot go to the recorded directory {info['cwd']}: {e.strerror}")
    _restore_environment(rec)
    if rec.tests():
        argv_ = _pytest_for_pdb(argv_)
    try:
        program = Program.from_argv(argv_)
        program.check()
    except ProgramError as e:
        raise UsageError(str(e)) from None

    _warn_if_source_changed(rec, change)
    stop = CulpritStop(change, _executions_needed(rec, change), _watch_before(rec, change))
    program.enter()
    stop.arm()
    try:
        outcome = program.run()
    except ProgramError as e:
        fail(str(e))
        return 2
    finally:
        stop.disarm()
    if not stop.stopped:
        print(
            f"spyrec: the run diverged from the recording: the culprit "
            f"{change.opname} (offset {change.offset}) at {change.file}:{change.line} ran "
            f"{stop.count} times and never reached the recorded change",
            file=sys.stderr,
        )
        return 1
    if outcome.signal:
        die_by_signal(outcome.signal)
    return outcome.exit_status


def _pytest_for_pdb(argv: list) -> list:
    """A `pytest --spyrec` session, run again with output capture off: pdb
    needs the terminal, which pytest's capture takes away. Capture changes
    what the tests' output goes to, nothing they compute."""
    from .. import recording_session

    recording_session.replaying = True
    print(
        "spyrec: replaying a pytest session with output capture off (--capture=no), so that pdb can use the terminal",
        file=sys.stderr,
    )
    return [*argv, "--capture=no"]


def _check_same_python(info: dict) -> None:
    """Bytecode, and so every culprit's offset, differs between Python
    versions: replaying on another one cannot reach the recorded change."""
    recorded = str(info.get("python_version") or "").split()[0:1]
    here = "{}.{}.{}".format(*sys.version_info[:3])
    if recorded and recorded[0].split(".")[:2] != here.split(".")[:2]:
        raise UsageError(
            f"the recording was made by Python {recorded[0]}; this is Python {here}: "
            f"replay it with Python {'.'.join(recorded[0].split('.')[:2])}"
        )


def _warn_if_source_changed(rec, change) -> None:
    """The culprit's file as recorded against the file now: an edited file
    makes the replay stop somewhere else, or never."""
    recorded = rec.source_lines(change.file)
    if recorded is None:
        return
    try:
        with open(change.file, encoding="utf-8", errors="replace") as f:
            now = f.read().splitlines()
    except OSError:
        now = None
    if now != [line.rstrip("\n") for line in recorded]:
        print(
            f"spyrec: warning: {change.file} is not the file that was recorded; "
            "the replay may stop elsewhere or diverge",
            file=sys.stderr,
        )


def _restore_environment(rec) -> None:
    """Start from the recorded os.environ, when it was watched: the run should not diverge
    because this shell's environment differs from the recorded one. A secret's value was
    not recorded (only its fingerprint): it is taken from this environment, if set here."""
    from ..report import is_redacted

    for w in rec.watches():
        if w.get("expr") == "os.environ" and isinstance(w.get("initial"), dict):
            restored, missing = {}, []
            for name, value in w["initial"].items():
                if is_redacted(value):
                    if name in os.environ:
                        restored[name] = os.environ[name]
                    else:
                        missing.append(name)
                elif isinstance(name, str) and isinstance(value, str):
                    restored[name] = value
                else:
                    return  # not an environment this spyrec wrote: leave it alone
            os.environ.clear()
            os.environ.update(restored)
            if missing:
                print(
                    f"spyrec: warning: {', '.join(missing)} had a value when recording (redacted) and "
                    "is not set here; the replay may diverge",
                    file=sys.stderr,
                )
            return


def _watch_before(rec, change) -> tuple:
    """(watch expr, existed, value): the whole watched value just before the
    change. The whole value, not the sub-path's: an instruction that sets
    every key of os.environ (pytest's PYTEST_CURRENT_TEST, the program's own)
    runs many times while os.environ['X'] is still absent, and only one of
    those runs finds os.environ exactly as the recording had it."""
    watch = (rec.watch_for(change.expr) or {}).get("expr", change.expr)
    missing = object()
    value = rec.value_at(watch, change.seq - 1, default=missing) if change.seq > 0 else missing
    return watch, value is not missing, None if value is missing else value


def _executions_needed(rec, change) -> int:
    """The least number of executions of the culprit that reach the change."""
    # The instruction may have changed the watch without touching a sub-path
    # of it: count its changes of the whole watch. Streamed: any history size.
    watch = (rec.watch_for(change.expr) or {}).get("expr", change.expr)
    same = sum(
        1
        for c in rec.iter_history(watch, pid=rec.pid)
        if c.seq <= change.seq and (c.file, c.function, c.offset) == (change.file, change.function, change.offset)
    )
    return max(same, 1)


class CulpritStop:
    def __init__(self, change, least: int, watch_before: tuple):
        self.change = change
        self.least = least
        self.watch, self.watch_existed, self.watch_value = watch_before
        self.count = 0
        self.stopped = False
        self.tool = None

    def arm(self) -> None:
        mon = sys.monitoring
        for tool in (mon.DEBUGGER_ID, 2, 3, 4, 5):
            if mon.get_tool(tool) is None:
                self.tool = tool
                break
        else:
            raise UsageError("no free sys.monitoring tool id for the replay")
        mon.use_tool_id(self.tool, "spyrec replay")
        mon.register_callback(self.tool, mon.events.PY_START, self._on_start)
        mon.register_callback(self.tool, mon.events.INSTRUCTION, self._on_instruction)
        mon.set_events(self.tool, mon.events.PY_START)

    def disarm(self) -> None:
        if self.tool is None:
            return
        mon = sys.monitoring
        mon.set_events(self.tool, 0)
        mon.register_callback(self.tool, mon.events.PY_START, None)
        mon.register_callback(self.tool, mon.events.INSTRUCTION, None)
        mon.free_tool_id(self.tool)
        self.tool = None

    def _is_culprit_code(self, code) -> bool:
        ch = self.change
        if code.co_filename != ch.file or code.co_qualname != ch.function:
            return False
        for start, end, line in code.co_lines():
            if start <= ch.offset < end:
                return line == ch.line
        return False

    def _on_start(self, code, offset):
        mon = sys.monitoring
        if self._is_culprit_code(code):
            mon.set_local_events(self.tool, code, mon.events.INSTRUCTION)
        return mon.DISABLE

    def _on_instruction(self, code, offset):
        mon = sys.monitoring
        if offset != self.change.offset or self.stopped:
            return mon.DISABLE
        self.count += 1
        if self.count < self.least:
            return None
        exists, value = _live_value(self.watch)
        if not _same(exists, value, self.watch_existed, self.watch_value):
            return None
        self.stopped = True
        mon.set_local_events(self.tool, code, 0)
        ch = self.change
        banner = (
            f"spyrec: stopped before {ch.opname} (offset {ch.offset}) at "
            f"{ch.file}:{ch.line} in {ch.function}, its execution {self.count}: "
            f"it is about to make change seq {ch.seq} of {ch.expr}"
        )
        from .. import debugger

        debugger.stop_in(sys._getframe(1), banner)
        return None


def _live_value(expr: str) -> tuple:
    from ..watch_expr import parse

    w = parse(expr)
    value = sys.modules.get(w.module)
    if value is None:
        return False, None
    try:
        for kind, key in w.steps:
            value = getattr(value, key) if kind == "attr" else value[key]
    except (AttributeError, LookupError, TypeError):
        return False, None
    return True, value


def _same(exists: bool, value, recorded_exists: bool, recorded) -> bool:
    if not recorded_exists or not exists:
        return exists == recorded_exists
    if _opaque(recorded):
        return True  # objects are recorded in a form we cannot rebuild here
    return _matches(_jsonish(value), recorded)


def _matches(live, recorded) -> bool:
    """live == recorded, where a redacted secret in the recording matches any
    live value (its fingerprint's key was never stored, so it cannot be checked)."""
    from ..report import is_redacted

    if is_redacted(recorded):
        return True
    if isinstance(recorded, dict) and isinstance(live, dict):
        return live.keys() == recorded.keys() and all(_matches(live[k], recorded[k]) for k in recorded)
    if isinstance(recorded, list) and isinstance(live, list):
        return len(live) == len(recorded) and all(_matches(a, b) for a, b in zip(live, recorded))
    return live == recorded


def _opaque(v) -> bool:
    # An object compared by identity is recorded as "<mod.Type object #id>":
    # its id belonged to the recorded process, so nothing here can match it.
    if isinstance(v, str):
        return v.startswith("<") and v.endswith(">") and " object #" in v
    if isinstance(v, dict):
        return "__class__" in v or any(_opaque(x) for x in v.values())
    if isinstance(v, list):
        return any(_opaque(x) for x in v)
    return False


def _jsonish(v, depth: int = 0):
    if depth > 16:
        return repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonish(x, depth + 1) for x in v]
    try:
        from collections.abc import Mapping

        if isinstance(v, Mapping) and all(isinstance(k, str) for k in v):
            return {k: _jsonish(v[k], depth + 1) for k in v}
    except Exception:
        pass
    return repr(v)
