"""The version is written once (pyfrontend/spyrec/__init__.py); the package
metadata, the command and every recording say the same."""

import importlib.metadata
import re
from pathlib import Path

import spyrec
from _programs import spyrec as run_spyrec

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_written_once():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=", pyproject, re.M)
    assert 'dynamic = ["version"]' in pyproject
    assert "setSpyrecVersion(SPYREC_VERSION)" in (ROOT / "recorder" / "session_records.cpp").read_text()


def test_metadata_command_and_recordings_agree(tmp_path):
    assert importlib.metadata.version("spyrec") == spyrec.__version__
    assert run_spyrec(["--version"], tmp_path).stdout == f"spyrec {spyrec.__version__}\n"
    (tmp_path / "app.py").write_text("pass\n")
    assert run_spyrec(["run", "-o", "rec", "app.py"], tmp_path).returncode == 0
    info = run_spyrec(["query", "-r", "rec", "info"], tmp_path).stdout
    assert f"(spyrec {spyrec.__version__})" in info


def test_only_the_supported_pythons_are_accepted():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3.12,<3.14"', pyproject, re.M)
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "VERSION_GREATER_EQUAL 3.14" in cmake and "FATAL_ERROR" in cmake


def test_the_core_stub_names_what_the_module_has():
    import ast

    from spyrec import _core

    stub = ast.parse((ROOT / "pyfrontend" / "spyrec" / "_core.pyi").read_text())
    declared = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            members |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
            declared[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = None
        elif isinstance(node, ast.AnnAssign):
            declared[node.target.id] = None
    aliases = {"ChangeDict", "WatchStep"}
    assert set(declared) - aliases == {n for n in dir(_core) if not n.startswith("__")}
    for name, members in declared.items():
        if members is None or name == "RecordingError":
            continue
        have = {m for m in vars(getattr(_core, name)) if not m.startswith("_") or m in ("__iter__", "__next__")}
        assert members - {"__init__"} == have, name
