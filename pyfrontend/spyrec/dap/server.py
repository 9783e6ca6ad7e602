"""The adapter behind `spyrec dap`: Debug Adapter Protocol on stdin/stdout.

A data breakpoint is a watch expression. After `configurationDone` the
program runs in a child process (debuggee.py) under the recorder; each change
of a data-breakpointed expression stops it right after the culprit
instruction, with the top frame at the culprit's line, and the editor can
look at the live program (stackTrace, scopes, variables, evaluate).

- `continue`: on to the next change; at the end, `exited` and `terminated`.
- `reverseContinue`: back to the previous change, by running the program
  again from the start and stopping at that change. The run is checked
  against the recording: a change whose culprit or value differs from the
  recorded one is said in an `output` event and the stop says "diverged";
  never a silent wrong answer.
- Data breakpoints: `dataBreakpointInfo` with a watch expression as `name`,
  or with a Variables-view variable that is a module global (`module.name`);
  and `launch`'s `watch` list. They are the recorder's watches, fixed when
  the program starts: new ones take effect when the session restarts.
- `launch` takes `program` (a script) or `module`, `args`, `cwd`, `watch`,
  and optionally `recording`: an existing recording whose program is re-run and
  whose changes every stop is checked against. Without it, the first run
  records into `.spyrec/` (as `spyrec run` does), and that recording is what
  later runs are checked against.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

from .protocol import LineChannel, ProtocolError, Writer, read_message

_INSPECT = ("stackTrace", "scopes", "variables", "evaluate")


class LaunchError(Exception):
    """A launch that cannot start: str() is one line, sent as the error response."""


class Debuggee:
    """One run of the program in a child process, stopping from change `stop_from` on."""

    def __init__(self, adapter: Adapter, stop_from: int, output: str | None):
        self.adapter = adapter
        self.messages: queue.Queue = queue.Queue()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        cmd = [
            sys.executable,
            "-m",
            "spyrec.dap.debuggee",
            "--channel",
            str(to_child_r),
            str(from_child_w),
            "--stop-from",
            str(stop_from),
        ]
        if output:
            cmd += ["--output", output]
        for expr in adapter.watches:
            cmd += ["--watch", expr]
        cmd += ["--", *adapter.program_argv]
        env = dict(os.environ)
        # The child imports this spyrec, wherever it was imported from.
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
        self.proc = subprocess.Popen(
            cmd,
            cwd=adapter.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.channel = LineChannel(from_child_r, to_child_w)
        self._ids = 0
        threading.Thread(target=self._read_channel, daemon=True).start()
        self._output_readers = [
            threading.Thread(target=self._read_output, args=(stream, category), daemon=True)
            for stream, category in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))
        ]
        for reader in self._output_readers:
            reader.start()

    def _read_channel(self) -> None:
        while (message := self.channel.receive()) is not None:
            self.messages.put(message)
        self.messages.put({"gone": True})

    def _read_output(self, stream, category: str) -> None:
        # A re-run prints again what an earlier run printed (the same program,
        # the same way): only the bytes past what was already shown are new.
        seen = 0
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self.adapter.output_lock:
                shown = self.adapter.shown[category]
                new = chunk[max(shown - seen, 0) :]
                seen += len(chunk)
                if new:
                    self.adapter.shown[category] = seen
                    self.adapter.out.event("output", {"category": category, "output": new.decode("utf-8", "replace")})

    def send(self, message: dict) -> None:
        self.channel.send(message)

    def ask(self, command: str, arguments: dict) -> dict:
        """A question about the stopped program; raises LookupError with its answer's error."""
        self._ids += 1
        self.send({"id": self._ids, "command": command, "arguments": arguments})
        while True:
            message = self.messages.get(timeout=60)
            if message.get("reply") == self._ids:
                if "error" in message:
                    raise LookupError(message["error"])
                return message.get("body") or {}
            if "gone" in message or "exited" in message:
                self.messages.put(message)
                raise LookupError("the program is no longer stopped")

    def next_event(self) -> dict:
        """The next stop, exit or failure of this run."""
        message = self.messages.get()
        if "gone" in message:
            code = self.proc.wait()
            self.drain_output()
            return {"exited": code}
        return message

    def drain_output(self) -> None:
        # The program's last lines may still be in the pipes when its exit is
        # known: they are sent before the `exited` event, not after it.
        for reader in self._output_readers:
            reader.join(timeout=10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.channel.close()

    def finish(self) -> None:
        """After the program said it exited: lets it end, then sends its last output."""
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # a thread that will not end: the run is over all the same
        self.kill()
        self.drain_output()


class Adapter:
    def __init__(self, out: Writer):
        self.out = out
        self.watches: list = []
        self.launch_watches: list = []  # launch's `watch`: always data breakpoints
        self.program_argv: list = []
        self.cwd: str | None = None
        self.recording: str | None = None  # what every stop is checked against
        self.record_into: str | None = None  # where the first run records (no `recording`)
        self.debuggee: Debuggee | None = None
        self.index = 0  # the change the program is stopped at
        self.furthest = 0  # the furthest change any run reached
        self.expected: list | None = None  # the recording's changes of the watches, by seq
        self.first_run = False  # the run that records (checked against nothing)
        self.running = False  # a debuggee is alive
        self.stopped = False  # ... and stopped at change `index`
        self.done = False
        self._lock = threading.Lock()
        self.shown = {"stdout": 0, "stderr": 0}  # bytes of the program's output already sent
        self.output_lock = threading.Lock()

    # ---- requests -------------------------------------------------------------------
    def handle(self, request: dict) -> None:
        command = request.get("command")
        handler = getattr(self, "on_" + str(command), None)
        if handler is None:
            self.out.response(request, error=f"spyrec dap does not support {command!r}")
            return
        try:
            handler(request, request.get("arguments") or {})
        except (LaunchError, LookupError, ValueError) as e:
            self.out.response(request, error=str(e))
        except Exception as e:  # the editor gets an answer; the adapter goes on
            first = str(e).splitlines()[0] if str(e) else ""
            self.out.response(request, error=f"spyrec dap: internal error: {type(e).__name__}: {first}")

    def on_initialize(self, request, args) -> None:
        self.out.response(
            request,
            {
                "supportsConfigurationDoneRequest": True,
                "supportsDataBreakpoints": True,
                "supportsStepBack": True,
                "supportsEvaluateForHovers": True,
                "supportsTerminateRequest": True,
            },
        )
        self.out.event("initialized")

    def on_launch(self, request, args) -> None:
        from .. import api

        cwd = args.get("cwd") or os.getcwd()
        if not os.path.isdir(cwd):
            raise LaunchError(f"cwd {cwd!r} is not a directory")
        if args.get("recording"):
            try:
                rec = api.open(os.path.join(cwd, args["recording"]))
            except api.RecordingError as e:
                raise LaunchError(str(e)) from None
            info = rec.info()
            self.recording = rec.path
            self.program_argv = list(info.get("argv") or ())
            cwd = info.get("cwd") or cwd
            if not self.program_argv:
                raise LaunchError("the recording does not say what program it ran")
        elif args.get("program"):
            program = os.path.join(cwd, args["program"])
            if not os.path.isfile(program):
                raise LaunchError(f"program not found: {args['program']}")
            self.program_argv = [program, *map(str, args.get("args") or ())]
        elif args.get("module"):
            self.program_argv = ["-m", str(args["module"]), *map(str, args.get("args") or ())]
        else:
            raise LaunchError("launch needs `program`, `module` or `recording`")
        from ..watch_expr import WatchExprError, normalize

        try:
            self.launch_watches = [normalize(str(w)) for w in args.get("watch") or ()]
        except WatchExprError as e:
            raise LaunchError(f"watch: {e}") from None
        self.watches = list(dict.fromkeys([*self.launch_watches, *self.watches]))
        self.cwd = cwd
        self.out.response(request)

    def on_dataBreakpointInfo(self, request, args) -> None:
        from ..watch_expr import WatchExprError, normalize

        name = str(args.get("name", ""))
        if args.get("variablesReference"):
            # "Break on Value Change" in the Variables view: a module global has an expression.
            try:
                self._need_stopped()
                name = self.debuggee.ask("dataBreakpointInfo", args)["expr"]
            except LookupError as e:
                self.out.response(request, {"dataId": None, "description": str(e)})
                return
        try:
            expr = normalize(name)
        except WatchExprError as e:
            self.out.response(request, {"dataId": None, "description": str(e)})
            return
        self.out.response(
            request, {"dataId": expr, "description": f"changes of {expr}", "accessTypes": ["write"], "canPersist": True}
        )

    def on_setDataBreakpoints(self, request, args) -> None:
        from ..watch_expr import WatchExprError, normalize

        results, watches = [], []
        for bp in args.get("breakpoints") or ():
            try:
                expr = normalize(str(bp.get("dataId", "")))
            except WatchExprError as e:
                results.append({"verified": False, "message": str(e)})
                continue
            watches.append(expr)
            results.append({"verified": True, "description": expr})
        watches = list(dict.fromkeys([*self.launch_watches, *watches]))
        if self.running and watches != self.watches:
            # The recorder's watches are fixed when the program starts.
            self.out.event(
                "output",
                {
                    "category": "console",
                    "output": "spyrec: new data breakpoints take effect when the session restarts\n",
                },
            )
        else:
            self.watches = watches
        self.out.response(request, {"breakpoints": results})

    def on_setBreakpoints(self, request, args) -> None:
        lines = [b.get("line") for b in args.get("breakpoints") or ()]
        self.out.response(
            request,
            {
                "breakpoints": [
                    {"verified": False, "line": line, "message": "spyrec stops at changes of data breakpoints only"}
                    for line in lines
                ]
            },
        )

    def on_setExceptionBreakpoints(self, request, args) -> None:
        self.out.response(request, {"breakpoints": []})

    def on_configurationDone(self, request, args) -> None:
        if not self.program_argv:
            raise LaunchError("configurationDone before launch")
        self.out.response(request)
        if not self.watches:
            self.out.event(
                "output",
                {"category": "console", "output": "spyrec: no data breakpoints: the program runs to its end\n"},
            )
        if self.recording is None:
            from ..paths import new_recording_dir, point_latest

            self.record_into = new_recording_dir(self.cwd)
        self.running = True
        self.first_run = self.record_into is not None
        if self.record_into:
            point_latest(self.record_into)
        self._run_to(1, output=self.record_into)

    def on_threads(self, request, args) -> None:
        self.out.response(request, {"threads": [{"id": 1, "name": self._thread_name}]})

    _thread_name = "MainThread"

    def on_continue(self, request, args) -> None:
        self._need_stopped()
        self.stopped = False
        self.out.response(request, {"allThreadsContinued": True})
        self.debuggee.send({"command": "continue"})
        self._wait_in_background()

    def on_reverseContinue(self, request, args) -> None:
        self._need_stopped()
        self.out.response(request)
        if self.index <= 1:
            self.out.event(
                "output",
                {"category": "console", "output": "spyrec: this is the first change; there is none before it\n"},
            )
            self._stopped(self.index, self._last_change, note="")
            return
        self.stopped = False
        self.first_run = False
        self.debuggee.kill()
        self._run_to(self.index - 1, output=None)

    def on_stepBack(self, request, args) -> None:
        self.on_reverseContinue(request, args)

    def on_next(self, request, args) -> None:
        self.on_continue(request, args)

    def on_pause(self, request, args) -> None:
        self.out.response(request, error="spyrec stops at changes only; it cannot pause in between")

    def _inspect(self, request, args) -> None:
        self._need_stopped()
        self.out.response(request, self.debuggee.ask(request["command"], args))

    on_stackTrace = on_scopes = on_variables = on_evaluate = _inspect

    def on_disconnect(self, request, args) -> None:
        self._end()
        self.out.response(request)
        self.done = True

    def on_terminate(self, request, args) -> None:
        self.out.response(request)
        self._end()
        self.out.event("terminated")

    # ---- running ----------------------------------------------------------------------
    def _need_stopped(self) -> None:
        if self.debuggee is None or not self.stopped:
            raise LookupError("the program is not stopped at a change")

    def _run_to(self, index: int, output: str | None) -> None:
        self.debuggee = Debuggee(self, index, output)
        self._wait_in_background()

    def _wait_in_background(self) -> None:
        # Requests go on being read (disconnect, terminate) while the program runs.
        threading.Thread(target=self._wait, args=(self.debuggee,), daemon=True).start()

    def _wait(self, debuggee: Debuggee) -> None:
        """Until the debuggee stops at a change, or ends; then the event that says so."""
        message = debuggee.next_event()
        with self._lock:
            if debuggee is not self.debuggee:
                return  # a run replaced by another (reverseContinue): nothing to say
            self._after(message)

    def _after(self, message: dict) -> None:
        if "stopped" in message:
            index, change = int(message["stopped"]), message.get("change") or {}
            self._thread_name = change.get("thread") or "MainThread"
            self.furthest = max(self.furthest, index)
            note = self._check(index, change)
            self._stopped(index, change, note)
            return
        if "failed" in message:
            self.out.event("output", {"category": "stderr", "output": f"spyrec: {message['failed']}\n"})
        code = int(message.get("exited", 0) or 0)
        self.debuggee.finish()
        self.running = self.stopped = False
        self.out.event("exited", {"exitCode": code})
        self.out.event("terminated")

    def _stopped(self, index: int, change: dict, note: str) -> None:
        self.index = index
        self.stopped = True
        self._last_change = change
        text = (
            f"{change.get('expr')} changed at {os.path.basename(str(change.get('file')))}:"
            f"{change.get('line')} ({change.get('opname')}), change {index}"
        )
        self.out.event(
            "stopped",
            {
                "reason": "data breakpoint",
                "threadId": 1,
                "allThreadsStopped": True,
                "description": text + note,
                "text": text + note,
            },
        )

    def _check(self, index: int, change: dict) -> str:
        """Compares the stop with the recording's change number `index`; '' when they agree."""
        expected = self._expected()
        if expected is None:
            return ""
        if index > len(expected):
            if self.recording is None:
                return ""  # past where the first run was stopped: nothing recorded to compare
            why = f"the recording has {len(expected)} changes of the data breakpoints, this is change {index}"
        else:
            want = expected[index - 1]
            fields = ("expr", "file", "line", "offset", "opname", "after")
            diffs = [
                f"{f}: recorded {want.get(f)!r}, now {change.get(f)!r}" for f in fields if want.get(f) != change.get(f)
            ]
            if not diffs:
                return ""
            why = "; ".join(diffs)
        self.out.event(
            "output",
            {
                "category": "important",
                "output": f"spyrec: the run diverged from the recording at change {index}: {why}\n",
            },
        )
        return " (diverged from the recording)"

    def _expected(self) -> list | None:
        """The recording's changes of the data breakpoints, by seq (read once)."""
        if self.first_run:
            return None  # this run is the recording
        path = self.recording or self.record_into
        if path is None:
            return None
        if self.expected is None:
            from .. import api

            try:
                rec = api.Recording(path)
                wanted = set(self.watches)
                self.expected = [c.to_json() for c in rec.changes(pid=rec.pid) if c.expr in wanted]
            except Exception as e:
                self.out.event(
                    "output", {"category": "important", "output": f"spyrec: cannot read the recording {path}: {e}\n"}
                )
                return None
        return self.expected

    def _end(self) -> None:
        debuggee, self.debuggee = self.debuggee, None
        if debuggee is not None:
            debuggee.kill()
        self.running = self.stopped = False


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # The program's output and ours must never reach the protocol stream.
    sys.stdout = sys.stderr
    out = Writer(stdout)
    adapter = Adapter(out)
    while not adapter.done:
        try:
            message = read_message(stdin)
        except ProtocolError as e:
            sys.stderr.write(f"spyrec dap: {e}\n")
            adapter._end()
            return 2
        if message is None:
            adapter._end()
            return 0
        if message.get("type") == "request":
            adapter.handle(message)
    return 0
