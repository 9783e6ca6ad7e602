"""Opening pdb in a given frame from inside a sys.monitoring callback.

Used by `spyrec run --break` (just after a change) and `spyrec replay
--break-before` (just before the culprit instruction runs).  In both cases we
are inside a monitoring callback, at an instruction in the middle of a line;
`pdb.set_trace(frame)` would only stop at the next *line* event, after the
instruction has run.  So the prompt is opened right here, with `interaction`,
and tracing is installed the way set_trace does it so that `n`, `s` and `c`
behave as usual once the callback returns.

While a monitoring callback runs, CPython fires no events for the code it runs
(3.12/3.13 bump tstate->tracing around callbacks), so nothing typed at the
prompt is recorded.
"""
from __future__ import annotations

import sys


def stop_in(frame, banner: str) -> None:
    import pdb
    if frame is None:
        sys.stderr.write(banner + "\n(no Python frame to stop in)\n")
        return
    sys.stderr.write(banner + "\n")
    sys.stderr.flush()
    debugger = pdb.Pdb()
    debugger.reset()
    f = frame
    while f is not None:
        f.f_trace = debugger.trace_dispatch
        debugger.botframe = f
        f = f.f_back
    # Whatever command leaves the prompt sets where to stop next; 'c' (set_continue)
    # removes this tracing again when there are no breakpoints.
    sys.settrace(debugger.trace_dispatch)
    debugger.interaction(frame, None)
