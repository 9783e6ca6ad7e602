"""The version is written in two places; they must agree."""

import re
from pathlib import Path

import spyrec


def test_package_version_matches_pyproject():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
    assert spyrec.__version__ == declared
