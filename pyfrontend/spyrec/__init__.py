"""spyrec: record a Python program, then ask which bytecode instruction changed a value.

    import spyrec
    rec = spyrec.open()                      # .spyrec/latest, or spyrec.open("path")
    print(rec.last_change("sys.path"))
    with spyrec.record(watch=["mymod.CONFIG"]) as rec: ...

What is here: api.py (Recording, Change, open, record), report.py and html.py
(text and notebook renderings), watch_expr.py (the EXPR syntax), program.py
(running a program as python would), recording_session.py (a Recorder and the
process hooks around it), children.py (following child processes), paths.py
(where recordings live), errors.py (every error and its exit status),
export.py (Parquet and Perfetto), debugger.py (pdb from a monitoring
callback), cli/ (the `spyrec` command), jupyter.py (`%load_ext spyrec`).  `_core` is the
compiled module underneath; only api.py and recording_session.py import it.

PYTEST_DONT_REWRITE: spyrec's pytest plugin is loaded from this package, which
`spyrec run -m pytest` and `spyrec replay` have imported before pytest starts.
"""

from __future__ import annotations

# The one place the version is written: pyproject.toml (scikit-build-core's
# regex provider) and CMakeLists.txt (for the recordings' meta) read it from
# here. Not read from importlib.metadata: that import costs ~100 ms of
# start-up (email, zipfile, inspect), which every recorded program would pay.
__version__ = "0.1.0"

_LAZY = {"Change", "Frame", "History", "RaisedException", "Recording", "RecordingError", "open", "record"}
_ERRORS = {"SpyrecError", "UsageError", "NotWatchedError"}


def __getattr__(name):
    # The API (and dataclasses, inspect...) is imported on first use, not by
    # `spyrec run`: every recorded program pays for what spyrec imports.
    if name in _LAZY:
        from . import api

        return getattr(api, name)
    if name == "WatchExprError":
        from .watch_expr import WatchExprError

        return WatchExprError
    if name in _ERRORS:
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'spyrec' has no attribute {name!r}")


__all__ = [
    "open",
    "record",
    "Recording",
    "Change",
    "History",
    "Frame",
    "RaisedException",
    "RecordingError",
    "WatchExprError",
    "SpyrecError",
    "UsageError",
    "NotWatchedError",
    "__version__",
    "load_ipython_extension",
]


def load_ipython_extension(ipython) -> None:
    """`%load_ext spyrec`: adds the `%%spyrec` cell magic."""
    from .jupyter import load_ipython_extension as load

    load(ipython)
