"""The debuggee of `spyrec dap`: runs the program under the recorder in live
mode and, at each change of a watched value from the K-th on, stops inside
the change hook (right after the culprit instruction, the program's frames
alive) and answers the adapter's questions about them until told to go on.

    python -m spyrec.dap.debuggee --channel IN_FD OUT_FD --stop-from K
           [--output DIR] --watch EXPR ... -- PROGRAM ARGV ...

The channel is a pair of pipes carrying one JSON object a line (never
pickle). From here: {"stopped": n, "change": {...}}, {"reply": id, "body" |
"error"}, {"exited": status}. To here: {"id": id, "command": "stackTrace" |
"scopes" | "variables" | "evaluate", "arguments": {...}} and {"command":
"continue"}. The program's own stdin is closed (DAP has none); its stdout and
stderr are the adapter's to forward.

Code run while stopped (repr() of values, `evaluate`) runs inside a
monitoring callback, so nothing it does is recorded.
"""

from __future__ import annotations

import argparse
import os
import reprlib
import sys

from .. import debugger
from .protocol import LineChannel

_REPR = reprlib.Repr()
_REPR.maxstring = 200
_REPR.maxother = 200
_REPR.maxlist = _REPR.maxdict = 30
_REPR.maxlevel = 3


def shown(value) -> str:
    try:
        return _REPR.repr(value)
    except Exception as e:  # a broken __repr__ is the program's, not ours
        return f"<repr failed: {type(e).__name__}: {e}>"


class Stop:
    """What the adapter may ask about while the program is stopped at one change."""

    def __init__(self, frame, change: dict):
        self.change = change
        self.frames = []
        f = frame
        while f is not None and not debugger.is_runner_frame(f):
            self.frames.append(f)
            f = f.f_back
        self.refs: list = []  # variablesReference n -> self.refs[n - 1]

    def ref(self, value) -> int:
        if not expandable(value):
            return 0
        self.refs.append(value)
        return len(self.refs)

    def frame(self, frame_id) -> object:
        try:
            return self.frames[int(frame_id) - 1]
        except (IndexError, TypeError, ValueError):
            raise LookupError(f"no frame {frame_id} at this stop") from None

    # ---- the questions ----------------------------------------------------------
    def stackTrace(self, arguments: dict) -> dict:
        frames = []
        for i, f in enumerate(self.frames, 1):
            path = f.f_code.co_filename
            line = f.f_lineno or 0
            if i == 1 and (path, f.f_code.co_qualname) == (self.change.get("file"), self.change.get("function")):
                # The program is at the instruction after the culprit: show the culprit's line.
                line = self.change.get("line") or line
            source = {"name": os.path.basename(path), "path": path}
            if path.startswith("<"):
                source = {"name": path, "presentationHint": "deemphasize"}
            frames.append({"id": i, "name": f.f_code.co_qualname, "line": line, "column": 1, "source": source})
        return {"stackFrames": frames, "totalFrames": len(frames)}

    def scopes(self, arguments: dict) -> dict:
        f = self.frame(arguments.get("frameId"))
        local = dict(f.f_locals) if f.f_locals is not f.f_globals else {}
        return {
            "scopes": [
                {
                    "name": "Locals",
                    "presentationHint": "locals",
                    "variablesReference": self._scope(local),
                    "expensive": False,
                },
                {
                    "name": "Globals",
                    "variablesReference": self._scope(_user_globals(f.f_globals), f.f_globals.get("__name__")),
                    "expensive": False,
                },
            ]
        }

    def _scope(self, mapping: dict, module: str | None = None) -> int:
        scope = _Scope(mapping)
        scope.module = module if isinstance(module, str) else None
        self.refs.append(scope)
        return len(self.refs)

    def dataBreakpointInfo(self, arguments: dict) -> dict:
        """A variable of the Variables view as a watch expression: only a
        module's global has one (`module.name`)."""
        try:
            scope = self.refs[int(arguments.get("variablesReference")) - 1]
        except (IndexError, TypeError, ValueError):
            raise LookupError("no such variablesReference at this stop") from None
        name = str(arguments.get("name", ""))
        if not isinstance(scope, _Scope) or scope.module is None or not name.isidentifier():
            raise LookupError(
                f"{name} is not a module global: give a watch expression instead (module.name['key'].attr)"
            )
        return {"expr": f"{scope.module}.{name}"}

    def variables(self, arguments: dict) -> dict:
        try:
            value = self.refs[int(arguments.get("variablesReference")) - 1]
        except (IndexError, TypeError, ValueError):
            raise LookupError("no such variablesReference at this stop") from None
        return {
            "variables": [
                {"name": name, "value": shown(v), "type": type(v).__name__, "variablesReference": self.ref(v)}
                for name, v in children(value)
            ]
        }

    def evaluate(self, arguments: dict) -> dict:
        expression = str(arguments.get("expression", ""))
        f = self.frame(arguments.get("frameId", 1))
        try:
            value = eval(compile(expression, "<evaluate>", "eval"), f.f_globals, f.f_locals)
        except Exception as e:
            raise LookupError(f"{type(e).__name__}: {e}") from None
        return {"result": shown(value), "type": type(value).__name__, "variablesReference": self.ref(value)}


class _Scope(dict):
    """A frame's names, shown as variables (not as a dict value); `module`:
    the module whose globals these are (None for locals)."""

    module = None


def _user_globals(g: dict) -> dict:
    return {k: v for k, v in g.items() if not (k.startswith("__") and k.endswith("__"))}


def expandable(value) -> bool:
    return (
        isinstance(value, (dict, list, tuple, set, frozenset))
        and len(value) > 0
        or (hasattr(value, "__dict__") and not isinstance(value, type) and bool(getattr(value, "__dict__", None)))
    )


def children(value) -> list:
    if isinstance(value, dict):
        if isinstance(value, _Scope):
            return list(value.items())
        return [(shown(k), v) for k, v in list(value.items())[:1000]]
    if isinstance(value, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(value[:1000])]
    if isinstance(value, (set, frozenset)):
        return [(f"<{i}>", v) for i, v in enumerate(list(value)[:1000])]
    return list(vars(value).items())


class Stopper:
    """The recorder's change hook: counts changes, stops from the K-th on."""

    def __init__(self, channel: LineChannel, stop_from: int):
        self.channel = channel
        self.stop_from = stop_from
        self.count = 0
        self.session = None  # set once the Session exists (it takes this hook)

    def __call__(self, change: dict) -> None:
        self.count += 1
        if self.count < self.stop_from:
            return
        if self.session is not None:
            self.session.flush()  # what the adapter compares re-runs with is on disk
        from ..api import Change

        public = Change.from_dict(change).to_json()
        flush_program_output()  # the adapter shows output in the order it was made
        stop = Stop(change.get("frame"), public)
        self.channel.send({"stopped": self.count, "change": public})
        while True:
            message = self.channel.receive()
            if message is None:  # the adapter went away: end the program
                os._exit(1)
            command = message.get("command")
            if command == "continue":
                return
            handler = (
                getattr(stop, str(command), None)
                if command in ("stackTrace", "scopes", "variables", "evaluate", "dataBreakpointInfo")
                else None
            )
            try:
                if handler is None:
                    raise LookupError(f"unknown command {command!r}")
                self.channel.send({"reply": message.get("id"), "body": handler(message.get("arguments") or {})})
            except LookupError as e:
                self.channel.send({"reply": message.get("id"), "error": str(e)})


def flush_program_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass  # closed or replaced by the program: nothing of ours to send


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spyrec.dap.debuggee")
    parser.add_argument("--channel", nargs=2, type=int, required=True, metavar=("IN_FD", "OUT_FD"))
    parser.add_argument("--stop-from", type=int, default=1)
    parser.add_argument("--output", default=None)
    parser.add_argument("--watch", action="append", default=[])
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program_argv = args.program[1:] if args.program[:1] == ["--"] else args.program

    from ..program import Program, ProgramError
    from ..recording_session import Session

    channel = LineChannel(*args.channel)
    stopper = Stopper(channel, args.stop_from)
    try:
        program = Program.from_argv(program_argv)
        program.check()
        session = Session(args.watch, args.output, argv=program.argv, default_watches=False, on_change=stopper)
    except (ProgramError, ValueError) as e:
        channel.send({"failed": str(e)})
        return 2
    stopper.session = session
    session.stop_at_exit()
    program.enter()
    session.start()
    outcome = program.run()
    session.outcome = outcome
    flush_program_output()  # the adapter may end this process as soon as it hears
    channel.send({"exited": outcome.exit_status})
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
