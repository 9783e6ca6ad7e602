"""`spyrec run`: record a program while it runs exactly as python would run it.

Options are read by hand, not by argparse: everything after the script (or
after `-m module` / `-c code`) belongs to the program, even when it looks like
one of our options.
"""

from __future__ import annotations

import sys

from . import UsageError

USAGE = """\
usage: spyrec run [-w EXPR]... [--no-default-watches] [--follow N] [-o DIR] [--force]
                  [--max-size BYTES] [--trail N] [--redact PATTERN]... [--no-redact]
                  [--no-follow] [--print] [--break]
                  (script.py | -m module | -c code) [args...]

  -w, --watch EXPR        also watch EXPR (repeatable), e.g. -w "os.environ['HOME']"
  --no-default-watches    do not watch sys.path, sys.meta_path, sys.path_hooks, os.environ
  --follow N              also compare the attributes of plain objects inside watched
                          values, down to N levels below the watched value (default 0:
                          objects inside a value are compared by identity)
  -o, --output DIR        record into DIR (default: a new directory under .spyrec/,
                          with .spyrec/latest pointing at it)
  --force                 replace the recording already in DIR
  --max-size BYTES        stop recording (the program goes on) once the records
                          reach BYTES; suffixes K, M, G (powers of 1024), e.g. 10M
  --trail N               keep each thread's last N executed lines with every change
                          (LINE events: costs about one callback per line run)
  --redact PATTERN        also store values under names matching PATTERN (a case-insensitive
                          glob such as '*_PIN') as fingerprints only (repeatable; the
                          defaults, *TOKEN*, *SECRET*, *PASSWORD* ..., always apply)
  --no-redact             store secrets' values as they are (warns at the start)
  --no-follow             do not record child processes (by default every child Python,
                          forked, spawned or run as a subprocess, records into
                          DIR/children/<pid> with the same watches)
  --print                 print each change to stderr as it happens
  --break                 on each change, print it and open pdb where it was made
"""


class RunOptions:
    """What `spyrec run`'s options asked for. (Not a dataclass: `spyrec run`
    imports nothing it can do without, since every recorded program's start-up
    pays for it; dataclasses brings inspect.)"""

    def __init__(self) -> None:
        self.watch: list = []
        self.default_watches = True
        self.output: str | None = None
        self.force = False
        self.max_size = 0
        self.trail = 0
        self.follow = 0
        self.redact: list = []
        self.no_redact = False
        self.follow_children = True
        self.print_changes = False
        self.break_on_change = False
        self.program_argv: list = []


def _warn(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def parse(argv: list) -> RunOptions:
    opts = RunOptions()
    i = 0
    while i < len(argv):
        arg = argv[i]

        def value(name):
            nonlocal i
            if i + 1 >= len(argv):
                raise UsageError(f"spyrec run: {name} needs a value")
            i += 1
            return argv[i]

        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            raise SystemExit(0)
        if arg == "--":
            opts.program_argv = argv[i + 1 :]
            break
        if arg in ("-w", "--watch"):
            opts.watch.append(value(arg))
        elif arg.startswith("--watch="):
            opts.watch.append(arg[len("--watch=") :])
        elif arg.startswith("-w") and len(arg) > 2:
            opts.watch.append(arg[2:])
        elif arg in ("-o", "--output"):
            opts.output = value(arg)
        elif arg.startswith("--output="):
            opts.output = arg[len("--output=") :]
        elif arg == "--max-size" or arg.startswith("--max-size="):
            text = arg.split("=", 1)[1] if "=" in arg else value(arg)
            opts.max_size = parse_size(text)
        elif arg == "--trail" or arg.startswith("--trail="):
            text = arg.split("=", 1)[1] if "=" in arg else value(arg)
            if not text.isdigit() or not 0 < int(text) <= 10000:
                raise UsageError(f"spyrec run: --trail wants a number of lines from 1 to 10000, not {text!r}")
            opts.trail = int(text)
        elif arg == "--follow" or arg.startswith("--follow="):
            text = arg.split("=", 1)[1] if "=" in arg else value(arg)
            if not text.isdigit() or not 0 <= int(text) <= 50:
                raise UsageError(f"spyrec run: --follow wants a depth from 0 to 50, not {text!r}")
            opts.follow = int(text)
        elif arg == "--redact" or arg.startswith("--redact="):
            text = arg.split("=", 1)[1] if "=" in arg else value(arg)
            if not text.strip():
                raise UsageError("spyrec run: --redact wants a name pattern such as '*_PIN'")
            opts.redact.append(text)
        elif arg == "--no-redact":
            opts.no_redact = True
        elif arg == "--no-follow":
            opts.follow_children = False
        elif arg == "--no-default-watches":
            opts.default_watches = False
        elif arg == "--force":
            opts.force = True
        elif arg == "--print":
            opts.print_changes = True
        elif arg == "--break":
            opts.break_on_change = True
        elif arg == "-m" or arg == "-c" or arg.startswith(("-m", "-c")):
            opts.program_argv = argv[i:]
            break
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"spyrec run: unknown option {arg!r} (see spyrec run --help)")
        else:
            opts.program_argv = argv[i:]
            break
        i += 1
    if not opts.program_argv:
        raise UsageError("spyrec run: nothing to run: give script.py, -m module or -c code (see spyrec run --help)")
    if opts.no_redact and opts.redact:
        raise UsageError("spyrec run: --redact and --no-redact contradict each other")
    if opts.program_argv[0] == "-":
        raise UsageError("spyrec run: a program on stdin cannot be recorded; save it to a file")
    return opts


_SIZE_SUFFIXES = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """'1048576', '10M', '1G', '512k', '2MiB' -> bytes (powers of 1024)."""
    t = text.strip().upper()
    for tail in ("IB", "B"):
        if len(t) > 1 and t.endswith(tail) and t[: -len(tail)][-1:].isalpha():
            t = t[: -len(tail)]
            break
    number, suffix = (t[:-1], t[-1]) if t[-1:].isalpha() else (t, "")
    try:
        n = float(number) if "." in number else int(number)
    except ValueError:
        n = -1
    if suffix not in _SIZE_SUFFIXES or n <= 0:
        raise UsageError(f"spyrec run: --max-size wants a positive size such as 10M or 1G, not {text!r}")
    return int(n * _SIZE_SUFFIXES[suffix])


def change_printer(cwd: str):
    """on_change for --print: the culprit, its instruction and the diff, on stderr."""
    from .. import report
    from ..api import Change

    def on_change(change: dict) -> None:
        ch = Change.from_dict(change)
        sys.stderr.write("spyrec: " + report.format_change(ch, cwd) + "\n")
        sys.stderr.flush()

    return on_change


def change_breaker(cwd: str, print_too: bool):
    """on_change for --break: say what changed, then pdb in the frame that changed it."""
    from .. import debugger, report
    from ..api import Change

    def on_change(change: dict) -> None:
        ch = Change.from_dict(change)
        if print_too:
            sys.stderr.write("spyrec: " + report.format_change(ch, cwd) + "\n")
        banner = (
            f"spyrec: {ch.expr} was just changed by {ch.opname} (offset {ch.offset}) at "
            f"{report.shown_path(ch.file, cwd)}:{ch.line} in {ch.function}; "
            "pdb is in that frame ('c' continues)"
        )
        debugger.stop_in(change.get("frame"), banner)

    return on_change


def main(argv: list) -> int:
    import os

    from ..errors import SpyrecError
    from ..program import Outcome, Program, ProgramError
    from ..recording_session import Session
    from ..watch_expr import WatchExprError
    from . import fail

    opts = parse(argv)
    try:
        program = Program.from_argv(opts.program_argv)
        program.check()
    except ProgramError as e:
        raise UsageError(str(e)) from None

    cwd = os.getcwd()
    if opts.break_on_change:
        on_change = change_breaker(cwd, opts.print_changes)
    elif opts.print_changes:
        on_change = change_printer(cwd)
    else:
        on_change = None
    try:
        session = Session(
            opts.watch,
            opts.output,
            argv=program.argv,
            default_watches=opts.default_watches,
            on_change=on_change,
            force=opts.force,
            max_size=opts.max_size,
            trail=opts.trail,
            follow=opts.follow,
            warn=_warn,
            redact=False if opts.no_redact else opts.redact,
            follow_children=opts.follow_children,
        )
    except WatchExprError as e:
        raise UsageError(str(e)) from None
    if opts.no_redact:
        _warn("spyrec: warning: --no-redact: values of secrets (tokens, passwords, keys) are recorded as they are")
    # Registered before the program runs, so it runs after the program's atexit handlers.
    session.stop_at_exit()
    program.enter()
    try:
        session.start()
    except (FileExistsError, RuntimeError, OSError, SpyrecError) as e:  # RecordingError is a SpyrecError
        # The recording cannot be created (another spyrec holds DIR, a
        # permission, a full disk): one line, exit 2, the program never ran.
        raise UsageError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    try:
        outcome = program.run()
    except ProgramError as e:
        fail(str(e))
        outcome = Outcome("exited", 2, 0, str(e))
    session.outcome = outcome
    return outcome.exit_status
