"""Which raised exceptions a reader is shown, and how: `query exceptions`
and `Recording.iter_exceptions(...)` filter by type, file and "the one that
ended the program", fold each re-raise into the raise it continues, and
leave out the exceptions Python raises and catches inside its own
machinery (importlib probing paths and caches, the signal module looking
up a handler), saying how many were left out.
"""

from __future__ import annotations

import dataclasses

__all__ = ["is_internal", "collapse_reraises", "select"]

# Where CPython raises and catches exceptions as part of its own work: every
# import probes the file system (FileNotFoundError) and caches (KeyError),
# and signal.signal() tries int() and the Handlers enum on every handler
# (TypeError, KeyError, ValueError: a recording's own handler makes every
# program that sets one do that).
_INTERNAL_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>", "<frozen zipimport>")
_INTERNAL_FUNCTIONS = {("signal.py", "_int_to_enum"), ("signal.py", "_enum_to_int")}


def is_internal(exc) -> bool:
    """Raised inside importlib, or inside the signal module's handler
    conversions (whatever they call: the enum lookup that fails)."""
    if exc.file in _INTERNAL_FILES:
        return True
    from .frames import is_user

    for frame in [exc.culprit, *exc.stack[1:]]:
        if ((frame.file or "").rsplit("/", 1)[-1], frame.function) in _INTERNAL_FUNCTIONS:
            return True
        if is_user(frame.file or ""):
            return False
    return False


# How many later exceptions a raise waits for its re-raises: a re-raise
# comes when its `finally` or `except` ends, after whatever that block (and
# other threads meanwhile) raised. Memory stays bounded on any recording.
RERAISE_WINDOW = 1024


def _continues(reraise, raised) -> bool:
    """A re-raise runs in the frame that raised or in one of its callers, so
    its stack (innermost first) is the tail of the raise's, frame for frame
    (file and function; lines move on). A re-raise of an exception whose raise
    was not recorded rarely matches an unrelated raise this way."""
    mine = [(f.file, f.function) for f in reraise.stack]
    theirs = [(f.file, f.function) for f in raised.stack]
    return bool(mine) and len(mine) <= len(theirs) and theirs[len(theirs) - len(mine) :] == mine


def collapse_reraises(excs, window: int = RERAISE_WINDOW):
    """Each re-raise (a `finally`, a bare `raise`) folded into the latest raise
    of the same process, thread, type and message that it continues (see
    _continues), even when other raises came between (in its cleanup block,
    or in other threads): `reraises` counts them, `last_raise` is where the
    last one was. Order is kept."""
    from collections import deque

    pending: deque = deque()  # [exception, key], oldest first
    latest: dict = {}  # key -> its entry in pending
    for e in excs:
        key = (e.pid, e.thread_id, e.type, e.message)
        entry = latest.get(key) if e.reraised else None
        if entry is not None and _continues(e, entry[0]):
            entry[0] = dataclasses.replace(entry[0], reraises=entry[0].reraises + 1, last_raise=e.culprit)
            continue
        entry = [e, key]
        pending.append(entry)
        latest[key] = entry
        while len(pending) > window:
            oldest = pending.popleft()
            if latest.get(oldest[1]) is oldest:
                del latest[oldest[1]]  # yielded: later re-raises can no longer fold into it
            yield oldest[0]
    for old, _ in pending:
        yield old


def select(excs, *, type=None, file=None, cwd=None, ending_message=None, unhandled=False, internal=True, hidden=None):
    """The exceptions a reader asked for. `type`: a name (`KeyError`) or a
    dotted one's tail; `file`: where it was raised (a path or its tail);
    `unhandled`: only the exception that ended the program (the last one
    matching the recording's ending message); `internal`: keep Python's own
    (see is_internal); `hidden`: a list that gets the count of those left out."""
    from .paths import same_file

    if unhandled:
        last = None
        for e in excs:
            if ending_message and f"{e.type}: {e.message}".rstrip(": ") == ending_message.rstrip(": "):
                last = e
        excs = [last] if last is not None else []
    left_out = 0
    for e in excs:
        if type is not None and e.type != type and not e.type.endswith("." + type):
            continue
        if file is not None and not same_file(e.file or "", file, cwd):
            continue
        if not internal and is_internal(e):
            left_out += 1
            continue
        yield e
    if hidden is not None:
        hidden.append(left_out)
