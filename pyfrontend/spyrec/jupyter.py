"""IPython / Jupyter: `%load_ext spyrec`, then

    %%spyrec -w mymod.CONFIG [-w EXPR ...] [-o NAME] [--no-default-watches] [--dir DIR]
    mymod.configure()

records the cell and binds the Recording to NAME (default `rec`) in the
notebook, where it and its Changes render as HTML (see html.py).
"""

from __future__ import annotations

import argparse
import shlex


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def _parser() -> _Parser:
    p = _Parser(prog="%%spyrec", add_help=False)
    p.add_argument("-w", "--watch", action="append", default=[])
    p.add_argument("-o", "--name", default="rec")
    p.add_argument("--no-default-watches", action="store_true")
    p.add_argument("--dir", default=None)
    return p


def cell_labels(ipython) -> dict:
    """{a cell's file: "In [N]"} for the cells IPython compiled (they are in
    linecache), as IPython's tracebacks number them."""
    import linecache
    import re

    labels = {}
    for name in list(linecache.cache):
        try:
            named = ipython.compile.format_code_name(name)
        except Exception:  # an IPython without it: cells keep their file names
            return labels
        number = re.fullmatch(r"In\s*\[(\d+)\]", named[1]) if named else None
        if number:
            labels[name] = f"In [{number.group(1)}]"
    return labels


def spyrec_cell(ipython, line: str, cell: str):
    from . import report
    from .api import record

    try:
        args = _parser().parse_args(shlex.split(line))
        if not args.name.isidentifier():
            raise ValueError(f"-o wants a variable name, not {args.name!r}")
        # The program is the cell, not the kernel's launcher.
        recorder = record(
            watch=args.watch,
            output=args.dir,
            default_watches=not args.no_default_watches,
            argv=[report.CELL_PROGRAM, f"In [{ipython.execution_count}]"],
            labels=lambda: cell_labels(ipython),
        )
        rec = recorder.__enter__()
    except ValueError as e:  # a bad option, and WatchExprError (a UsageError, a ValueError)
        print(f"%%spyrec: {e}")
        return None
    result = None
    try:
        result = ipython.run_cell(cell)
    finally:
        error = getattr(result, "error_in_exec", None) if result is not None else None
        if error is not None:
            try:
                recorder.__exit__(type(error), error, error.__traceback__)
            except BaseException:
                pass  # IPython has shown the error already
        else:
            recorder.__exit__(None, None, None)
    ipython.user_ns[args.name] = rec
    n = rec.info().get("changes", 0)
    print(
        f"spyrec: {n} change{'s' if n != 1 else ''} recorded; `{args.name}` holds the recording "
        f"({args.name}.last_change(EXPR), {args.name}.history(EXPR))"
    )
    return None


def load_ipython_extension(ipython) -> None:
    def spyrec(line, cell):
        return spyrec_cell(ipython, line, cell)

    ipython.register_magic_function(spyrec, magic_kind="cell", magic_name="spyrec")
