"""Every error spyrec raises on purpose, and the exit status the `spyrec`
command ends with for each (cli/main.py). str() of any of them is one line.

    SpyrecError            the base; exit 2
      UsageError           a bad command line or API argument
      WatchExprError       a watch expression that is not one (watch_expr.py)
      NotWatchedError      a question about what the recording did not watch; exit 1
      RecordingError       a recording that is missing, damaged or unreadable
                           (raised by the C++ core, spyrec._core, with this base)
      ProgramError         the program to record cannot be run (program.py)
      ExportError          an export that cannot be written (export.py)
"""

from __future__ import annotations


class SpyrecError(Exception):
    """Base of every error spyrec raises on purpose."""

    exit_status = 2


class UsageError(SpyrecError, ValueError):
    """A bad command line or argument; str() is the one line printed after `spyrec: error: `."""


class NotWatchedError(SpyrecError, LookupError):
    """A question about an expression the recording did not watch (None
    would mean "watched, never changed")."""

    exit_status = 1
