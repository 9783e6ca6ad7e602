"""Shared pytest fixtures for spyrec's end-to-end tests (keep this small)."""

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def supported_pythons():
    """{'3.12': path, '3.13': path}: the interpreters spyrec supports, for checks
    that must hold on both whichever Python runs pytest."""
    found = {}
    for version in ("3.12", "3.13"):
        candidates = [REPO_ROOT / f".venv-{version}" / "bin" / "python"]
        candidates += sorted(PYENV_ROOT.glob(f"versions/{version}.*/bin/python3"))
        if sys.version_info[:2] == tuple(map(int, version.split("."))):
            candidates.insert(0, Path(sys.executable))
        found[version] = next((str(c) for c in candidates if c.exists()), None)
    return found
