"""`spyrec list` and `spyrec clean`: the recordings under `.spyrec/`, their
size, program and date, and removing old ones (recordings pile up: six runs
of a test suite can take gigabytes)."""

from __future__ import annotations

import argparse
import os
import shutil
import time

from ..paths import disk_bytes, human_size
from . import UsageError
from .parsing import ArgumentParser


def build_list_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="spyrec list", description="List the recordings under DIR/.spyrec, newest first.")
    parser.add_argument(
        "-d", "--dir", metavar="DIR", default=".", help="the directory whose .spyrec/ to look in (default: this one)"
    )
    return parser


def build_clean_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="spyrec clean", description="Remove recordings under DIR/.spyrec, keeping the newest N."
    )
    parser.add_argument(
        "-d", "--dir", metavar="DIR", default=".", help="the directory whose .spyrec/ to clean (default: this one)"
    )
    parser.add_argument(
        "--keep",
        metavar="N",
        type=_count,
        default=1,
        help="how many of the newest recordings to keep (default: 1; 0 removes all)",
    )
    parser.add_argument("-n", "--dry-run", action="store_true", help="say what would be removed, remove nothing")
    return parser


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"N is a whole number from 0, not {text!r}")
    return int(text)


def recordings_in(directory: str) -> list:
    """[(path, mtime)] of the recordings under DIR/.spyrec (directories
    holding a data.mdb), newest first; `latest` is a link, not one of them."""
    from ..paths import RECORDINGS_DIR

    base = os.path.join(directory, RECORDINGS_DIR)
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UsageError(f"cannot read {base}: {e.strerror}") from None
    found = []
    for name in names:
        path = os.path.join(base, name)
        if os.path.islink(path) or not os.path.isdir(path):
            continue
        try:
            found.append((path, os.stat(os.path.join(path, "data.mdb")).st_mtime))
        except OSError:
            continue
    return sorted(found, key=lambda item: item[1], reverse=True)


def _info(path: str) -> dict | None:
    from .. import api

    try:
        return api.open(path).info()
    except api.RecordingError:
        return None


def _describe(path: str) -> tuple:
    """(started, program) from the recording itself."""
    from ..report import program_text

    info = _info(path)
    if info is None:
        return "?", "(unreadable)"
    try:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(info["start_time"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):  # none recorded, or a damaged one
        started = "?"
    program = program_text(info.get("argv"))
    return started, program


def list_main(argv: list) -> int:
    args = build_list_parser().parse_args(argv)
    found = recordings_in(args.dir)
    if not found:
        print(f"no recordings under {os.path.join(args.dir, '.spyrec')}")
        return 0
    total = 0
    for path, _ in found:
        size = disk_bytes(path)
        total += size
        started, program = _describe(path)
        if len(program) > 60:
            program = program[:59] + "…"
        print(f"{os.path.relpath(path):<40}  {human_size(size):>10}  {started}  {program}")
    print(f"{len(found)} recording{'s' if len(found) != 1 else ''}, {human_size(total)}")
    return 0


def clean_main(argv: list) -> int:
    from ..paths import LATEST, RECORDINGS_DIR, point_latest
    from ..report import still_running

    args = build_clean_parser().parse_args(argv)
    found = recordings_in(args.dir)
    freed, kept = 0, found[: args.keep]
    for path, mtime in found[args.keep :]:
        info = _info(path)
        if info is not None and info.get("ending") is None and still_running(info):
            print(f"kept {os.path.relpath(path)}: still recording (pid {info.get('pid')})")
            kept.append((path, mtime))
            continue
        size = disk_bytes(path)
        if not args.dry_run:
            failed = []
            shutil.rmtree(path, onerror=lambda _f, p, exc, failed=failed: failed.append((p, exc[1])))
            if failed:
                p, e = failed[0]
                print(f"could not remove {os.path.relpath(path)}: {p}: {getattr(e, 'strerror', None) or e}")
                kept.append((path, mtime))
                continue
        freed += size
        print(f"{'would remove' if args.dry_run else 'removed'} {os.path.relpath(path)} ({human_size(size)})")
    latest = os.path.join(args.dir, RECORDINGS_DIR, LATEST)
    if not args.dry_run and os.path.islink(latest) and not os.path.exists(latest):
        # It pointed at a recording just removed: the newest one kept, or none.
        newest = max(kept, key=lambda item: item[1], default=None)
        try:
            if newest:
                point_latest(newest[0])
            else:
                os.unlink(latest)
        except OSError as e:
            raise UsageError(f"cannot update {latest}: {e.strerror}") from None
    print(
        f"{'would free' if args.dry_run else 'freed'} {human_size(freed)}; "
        f"{len(kept)} recording{'s' if len(kept) != 1 else ''} kept"
    )
    return 0
