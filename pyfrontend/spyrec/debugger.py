"""Opening pdb in a given frame from inside a sys.monitoring callback.

Used by `spyrec run --break` (just after a change) and `spyrec replay
--break-before` (just before the culprit instruction runs).  In both cases we
are inside a monitoring callback, at an instruction in the middle of a line;
`pdb.set_trace(frame)` would only stop at the next *line* event, after the
instruction has run.  So the prompt is opened right here, with `interaction`.

What a pdb user expects, and how:
- The prompt is in the user's frame, never in pdb's own code: tracing is
  installed only after the prompt closes, and only when the command that
  closed it steps (`n`, `s`, `r`, `unt`) or breakpoints are set; `c` leaves
  nothing installed.
- `where` and `up` stop at the program's outermost frame: spyrec's runner
  and runpy above it are not the user's (pdb's `botframe`).
- `q` and Ctrl-D end the program, as in pdb: QuitProgram (a SystemExit) is
  raised out of the monitoring callback into the program, which unwinds
  (finally blocks run) and exits with status 1; the recording ends normally.
  Inside a pytest run, which reports a SystemExit in a test as that test's
  error and goes on, it is pytest's own Exit instead (what `q` in `pytest
  --pdb` raises): the session stops, interrupted.

While a monitoring callback runs, CPython fires no events for the code it runs
(3.12/3.13 bump tstate->tracing around callbacks), so nothing typed at the
prompt is recorded.
"""

from __future__ import annotations

import sys

# Files whose frames belong to spyrec's runner, not to the recorded program.
_RUNNER_MODULES = ("runpy", "spyrec")


class QuitProgram(SystemExit):
    """`q` or Ctrl-D at a spyrec pdb prompt: the program ends (status 1)."""

    def __init__(self) -> None:
        super().__init__("spyrec: quit from pdb; the program was ended there")


def _quit_exception(frame) -> BaseException:
    outcomes = sys.modules.get("_pytest.outcomes")
    if outcomes is not None and _inside_pytest_runner(frame):
        return outcomes.Exit("spyrec: quit from pdb")
    return QuitProgram()


def _inside_pytest_runner(frame) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__") == "_pytest.runner":
            return True
        frame = frame.f_back
    return False


def is_runner_frame(frame) -> bool:
    """spyrec's own frames and runpy's, above the program's outermost one."""
    name = frame.f_globals.get("__name__", "")
    filename = frame.f_code.co_filename
    return (name.split(".")[0] in _RUNNER_MODULES or filename.startswith("<frozen runpy")) and name != "__main__"


def program_bottom(frame):
    """The outermost frame of the recorded program at or above `frame`:
    the frame just below the first of spyrec's runner frames."""
    bottom = frame
    f = frame
    while f is not None:
        if is_runner_frame(f):
            break
        bottom = f
        f = f.f_back
    return bottom


def stop_in(frame, banner: str) -> None:
    import pdb

    if frame is None:
        sys.stderr.write(banner + "\n(no Python frame to stop in)\n")
        return
    sys.stderr.write(banner + "\n")
    sys.stderr.flush()
    debugger = pdb.Pdb()
    debugger.reset()
    bottom = program_bottom(frame)
    debugger.botframe = bottom
    # What `c` sets (bdb.set_continue): no stop until a breakpoint. The
    # command typed at the prompt replaces it.
    debugger._set_stopinfo(bottom, None, -1)
    debugger.interaction(frame, None)
    if debugger.quitting:
        raise _quit_exception(frame)
    if _keeps_tracing(debugger, bottom):
        f = frame
        while f is not None:
            f.f_trace = debugger.trace_dispatch
            if f is bottom:
                break
            f = f.f_back
        sys.settrace(debugger.trace_dispatch)


def _keeps_tracing(debugger, bottom) -> bool:
    """Whether the command that closed the prompt needs trace events: a step,
    next, return or until (anything but continue), or breakpoints to hit."""
    continuing = debugger.stopframe is bottom and debugger.returnframe is None and debugger.stoplineno == -1
    return bool(debugger.breaks) or not continuing
