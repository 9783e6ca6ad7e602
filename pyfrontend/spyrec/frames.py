"""Whose code a recorded frame is in: the user's, the standard library's, an
installed package's, or pytest's (pytest, pluggy and their plugins' runner).

Recorded file names come from the machine that recorded, so they are judged
by their shape, not by this interpreter's paths: `<frozen os>` and files
under `lib/pythonX.Y/` are the standard library, anything under a
`site-packages` or `dist-packages` directory is an installed package, and
pytest's own packages are told apart from other packages so that a stack
through a test run can say "… 31 pytest frames" instead of printing them.
"""

from __future__ import annotations

import re

__all__ = ["kind_of", "is_user", "short_path", "first_user_frame", "fold"]

_PYTEST_PACKAGES = ("_pytest", "pluggy", "pytest", "py", "xdist")
_STDLIB = re.compile(r"[/\\]lib[/\\]python\d+\.\d+t?[/\\]")
_PACKAGES = re.compile(r"[/\\](site|dist)-packages[/\\]([^/\\]+)")


def kind_of(file: str) -> str:
    """ "user" | "stdlib" | "site-packages" | "pytest"."""
    if file.startswith("<frozen "):
        return "stdlib"
    m = _PACKAGES.search(file)
    if m:
        top = m.group(2).split(".")[0]
        return "pytest" if top in _PYTEST_PACKAGES else "site-packages"
    if _STDLIB.search(file):
        return "stdlib"
    return "user"


def short_path(file: str) -> str:
    """Library code's path from where its kind starts: `<stdlib>/logging/__init__.py`,
    `site-packages/pluggy/_hooks.py`; any other path as it is."""
    m = _PACKAGES.search(file)
    if m:
        return "site-packages/" + file[m.start(2) :]
    m = _STDLIB.search(file)
    if m:
        return "<stdlib>/" + file[m.end() :]
    return file


def is_user(file: str) -> bool:
    return kind_of(file) == "user"


def first_user_frame(stack):
    """The innermost frame in the user's own code, or None (stack: innermost first)."""
    for frame in stack:
        if is_user(frame.file):
            return frame
    return None


_LABELS = {"stdlib": "standard library frames", "site-packages": "frames in site-packages", "pytest": "pytest frames"}


def fold(stack, keep_first: bool = True, least: int = 3):
    """The frames to print, innermost first: each run of at least `least`
    consecutive library frames of one kind becomes one string
    ("… 31 pytest frames"). The culprit (the first frame) is always kept."""
    out, i = [], 0
    frames = list(stack)
    if keep_first and frames:
        out.append(frames[0])
        i = 1
    while i < len(frames):
        kind = kind_of(frames[i].file)
        j = i
        while j < len(frames) and kind_of(frames[j].file) == kind:
            j += 1
        if kind != "user" and j - i >= least:
            out.append(f"… {j - i} {_LABELS[kind]}")
        else:
            out.extend(frames[i:j])
        i = j
    return out
