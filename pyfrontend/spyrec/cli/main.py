"""`spyrec` entry point: dispatch to a subcommand, turn every failure into one line."""

from __future__ import annotations

import os
import sys

from ..errors import SpyrecError
from . import UsageError, fail

# `spyrec run`'s synopsis comes from run.py (usage()), so the two cannot drift.
OTHER_COMMANDS = """\
       spyrec query [-r DIR] (last-change EXPR | history EXPR | value EXPR --at SEQ
                              | exceptions | watches | info | leaks) [--json]
       spyrec replay [-r DIR] --break-before (last-change EXPR | change EXPR N | seq SEQ)
       spyrec export --format (parquet | perfetto) [-r DIR]... [-o OUT] [--values]
       spyrec list [-d DIR]             (the recordings under DIR/.spyrec: size, date, program)
       spyrec clean [-d DIR] [--keep N] [--dry-run]   (remove all but the newest N)
       spyrec dap                       (Debug Adapter Protocol on stdin/stdout, for editors)
       spyrec --version
       pytest --spyrec [--spyrec-watch EXPR]...   (which test leaked state)

Record a Python program, then ask which bytecode instruction changed a value.
  spyrec run app.py                     record (watches sys.path, sys.meta_path,
                                        sys.path_hooks and os.environ by default)
  spyrec query last-change sys.path     who changed it last, and how
"""


def usage() -> str:
    from . import run

    synopsis = run.USAGE.split("\n\n", 1)[0]
    return synopsis + "       (see spyrec run --help)\n" + OTHER_COMMANDS


COMMANDS = ("run", "query", "replay", "export", "list", "clean", "dap")


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _dispatch(argv)
    except SpyrecError as e:  # UsageError and the rest: one line, their exit status
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return e.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`spyrec query ... | head`): not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except MemoryError:
        fail("out of memory reading the recording")
        return 2
    except Exception as e:
        if os.environ.get("SPYREC_DEBUG"):
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        fail(f"internal error: {type(e).__name__}: {first} (set SPYREC_DEBUG=1 for the traceback)")
        return 2


def _dispatch(argv: list) -> int:
    if not argv:
        sys.stderr.write(usage())
        return 2
    command, rest = argv[0], argv[1:]
    if command in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0
    if command in ("--version", "-V"):
        from .. import __version__

        print(f"spyrec {__version__}")
        return 0
    if command == "run":
        from . import run

        return run.main(rest)
    if command == "query":
        from . import query

        return query.main(rest)
    if command == "replay":
        from . import replay

        return replay.main(rest)
    if command == "export":
        from . import export

        return export.main(rest)
    if command == "list":
        from . import recordings

        return recordings.list_main(rest)
    if command == "clean":
        from . import recordings

        return recordings.clean_main(rest)
    if command == "dap":
        if rest:
            raise UsageError("spyrec dap takes no arguments: it speaks DAP on stdin/stdout")
        from ..dap import server

        return server.main()
    raise UsageError(f"unknown command {command!r} (choose from {', '.join(COMMANDS)}; see spyrec --help)")


if __name__ == "__main__":
    sys.exit(main())
