"""`spyrec export`: a recording (with its child processes) as Parquet tables
or a Perfetto trace (docs/export.md)."""

from __future__ import annotations

import sys

from . import UsageError
from .parsing import ArgumentParser


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="spyrec export",
        description="Write recordings as Parquet tables (for DuckDB, Spark, Trino) or as a trace for the Perfetto UI.",
    )
    parser.add_argument("--format", required=True, choices=("parquet", "perfetto"))
    parser.add_argument(
        "-r",
        "--recording",
        metavar="DIR",
        action="append",
        default=None,
        help="a recording (repeatable with parquet; default: .spyrec/latest)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default=None,
        help="parquet: the directory to write into (default: spyrec-export); "
        "perfetto: the trace file (default: spyrec-trace.json)",
    )
    parser.add_argument(
        "--values",
        action="store_true",
        help="parquet: also store each change's before and after values as JSON "
        "(a whole value per change: can be large)",
    )
    return parser


def main(argv: list) -> int:
    from .. import api, export

    args = build_parser().parse_args(argv)
    recordings = args.recording or [None]
    if args.format == "perfetto" and len(recordings) > 1:
        raise UsageError("spyrec export: --format perfetto writes one recording's trace; give one -r")
    if args.values and args.format != "parquet":
        raise UsageError("spyrec export: --values is for --format parquet")
    recs = [api.open(path) for path in recordings]  # every one readable before writing any
    try:
        for rec in recs:
            if args.format == "parquet":
                out = args.output or "spyrec-export"
                tables = export.export_parquet(rec, out, values=args.values)
                counts = ", ".join(f"{rows} {name}" for name, (_, rows) in tables.items())
                print(f"{rec.path}: {counts} -> {out}/*-{export.recording_id(rec)}.parquet")
            else:
                out = args.output or "spyrec-trace.json"
                events = export.export_perfetto(rec, out)
                print(f"{rec.path}: {events} events -> {out} (open it in https://ui.perfetto.dev)")
    except export.ExportError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"spyrec export: cannot write {e.filename or args.output}: {e.strerror}") from None
    for rec in recs:
        for path, error in rec.unreadable_children:
            print(f"spyrec: warning: {path}: unreadable, skipped: {error}", file=sys.stderr)
    return 0
