"""Where recordings live: `.spyrec/<stamp>-<pid>`, `.spyrec/latest`, and a
recording's followed child processes under `DIR/children/<pid>`."""

from __future__ import annotations

import os
import time

__all__ = [
    "RECORDINGS_DIR",
    "LATEST",
    "CHILDREN",
    "default_recording",
    "new_recording_dir",
    "point_latest",
    "new_child_dir",
    "child_dirs",
    "disk_bytes",
    "human_size",
]

RECORDINGS_DIR = ".spyrec"
LATEST = "latest"
CHILDREN = "children"


def default_recording(cwd: str | None = None) -> str:
    """Where `query` and `replay` look when no -r is given."""
    return os.path.join(cwd or os.getcwd(), RECORDINGS_DIR, LATEST)


def new_recording_dir(cwd: str | None = None) -> str:
    """A fresh path `.spyrec/<YYYYmmdd-HHMMSS>-<pid>` (not created: the Recorder creates it)."""
    base = os.path.join(cwd or os.getcwd(), RECORDINGS_DIR)
    # The recordings hold environment variables, and those hold secrets.
    os.makedirs(base, mode=0o700, exist_ok=True)
    return _fresh(base, f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")


def point_latest(path: str) -> None:
    """Make `.spyrec/latest` beside `path` point at it, atomically (rename over)."""
    base = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(base, f".{LATEST}.{os.getpid()}.tmp")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(os.path.basename(os.path.abspath(path)), tmp)
    os.replace(tmp, os.path.join(base, LATEST))


def new_child_dir(root: str, pid: int) -> str:
    """A fresh `ROOT/children/<pid>` for a followed child process (`<pid>-2`
    when the pid was seen before: a process that exec'd, or a reused pid).
    Every descendant goes under the first recording's `children/`, so the
    tree is one level deep whatever the depth of the process tree."""
    base = os.path.join(root, CHILDREN)
    os.makedirs(base, mode=0o700, exist_ok=True)
    return _fresh(base, str(pid))


def child_dirs(root: str) -> list:
    """The recordings of `root`'s followed child processes, oldest first
    (directories under ROOT/children holding a data.mdb)."""
    base = os.path.join(root, CHILDREN)
    try:
        names = os.listdir(base)
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(base, name)
        try:
            found.append((os.stat(os.path.join(path, "data.mdb")).st_mtime_ns, path))
        except OSError:
            if os.path.isdir(path):
                found.append((0, path))  # a child that died before its first commit
    return [path for _, path in sorted(found)]


def disk_bytes(path: str) -> int:
    """What a recording takes on disk (its children's included): allocated
    blocks, not apparent sizes."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def same_file(recorded: str, wanted: str, cwd: str | None) -> bool:
    """Whether a recorded file name is `wanted`: the same path, `wanted`
    relative to the recording's directory, or a tail of it (`app/util.py`)."""
    if recorded == wanted:
        return True
    if cwd and os.path.normpath(os.path.join(cwd, wanted)) == recorded:
        return True
    return recorded.endswith(os.sep + wanted.lstrip(os.sep))


def _fresh(base: str, stem: str) -> str:
    path, n = os.path.join(base, stem), 1
    while os.path.lexists(path):
        n += 1
        path = os.path.join(base, f"{stem}-{n}")
    return path
