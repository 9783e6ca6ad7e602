"""The `spyrec` command: one module per subcommand, each a thin layer over the API.

main.py dispatches; run.py records a program; query.py answers questions about a
recording; replay.py re-runs the program and stops in pdb before a change.
Every failure the user can cause ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys

from ..errors import UsageError  # noqa: F401  (the subcommands raise it from here)


def fail(message: str) -> None:
    print(f"spyrec: error: {message}", file=sys.stderr)
