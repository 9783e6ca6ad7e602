"""Transparency: a program behaves the same recorded as not. CPython's own test
modules under `-m unittest` and the pytest suite of a real PyPI package
(more-itertools, from its sdist) give the same counts; snapshots never call
user-defined __eq__, __hash__ or __repr__; recordings are owner-only."""

import os
import re
import stat
import subprocess
import sys
import tarfile

import pytest
from _programs import REPO, env, spyrec, write

CPYTHON_MODULES = [
    "test.test_list",
    "test.test_dict",
    "test.test_generators",
    "test.test_contextlib",
    "test.test_threading",
]


def unittest_summary(stderr: str) -> tuple:
    ran = re.findall(r"^Ran (\d+) tests?", stderr, re.M)
    result = re.findall(r"^(OK|FAILED)(?: \((.*)\))?$", stderr, re.M)
    assert ran and result, stderr[-2000:]
    return ran[-1], result[-1]


def test_cpython_test_modules_give_the_same_counts(tmp_path):
    present = [
        m for m in CPYTHON_MODULES if os.path.exists(os.path.join(os.path.dirname(os.__file__), *m.split(".")) + ".py")
    ]
    if not present:
        pytest.skip("this Python has no `test` package")
    plain = subprocess.run(
        [sys.executable, "-m", "unittest", *present],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    recorded = spyrec(["run", "-o", "rec", "-m", "unittest", *present], tmp_path)
    assert recorded.returncode == plain.returncode
    assert unittest_summary(recorded.stderr) == unittest_summary(plain.stderr)


def _sdist_tests(name, version):
    cache = os.path.join(REPO, "build", "transparency", f"{name}-{version}")
    if not os.path.isdir(os.path.join(cache, "tests")):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        dl = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{name}=={version}",
                "-d",
                os.path.dirname(cache),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        tars = [
            f
            for f in os.listdir(os.path.dirname(cache))
            if f.endswith(".tar.gz") and version in f and name.replace("-", "_") in f
        ]
        if dl.returncode != 0 or not tars:
            pytest.skip(f"cannot download the {name} sdist: {dl.stderr.strip()[-200:]}")
        with tarfile.open(os.path.join(os.path.dirname(cache), tars[0])) as t:
            t.extractall(os.path.dirname(cache), filter="data")
        extracted = os.path.join(os.path.dirname(cache), tars[0][: -len(".tar.gz")])
        if extracted != cache:
            os.replace(extracted, cache)
    return cache


def pytest_counts(out: str) -> str:
    lines = [l for l in out.splitlines() if re.search(r"\d+ (passed|failed|error)", l)]
    assert lines, out[-2000:]
    return re.sub(r" in [\d.]+s.*", "", lines[-1]).strip("= ")


def test_pypi_package_test_suite_gives_the_same_counts(tmp_path):
    root = _sdist_tests("more-itertools", "10.7.0")
    e = env()
    e["PYTHONPATH"] = os.pathsep.join([root, e.get("PYTHONPATH", "")])
    # A selection: the whole suite takes ~12 s plain but minutes recorded (the
    # recorder's overhead on tight pure-Python loops; see docs/reliability.md).
    args = [
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_recipes.py",
        "-k",
        "Take or Tabulate or Tail or Consume or Pairwise or Grouper or Roundrobin or Partition or Powerset or Unique",
    ]
    plain = subprocess.run([sys.executable, *args], cwd=root, env=e, capture_output=True, text=True, timeout=240)
    recorded = subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "-o", str(tmp_path / "rec"), *args],
        cwd=root,
        env=e,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert recorded.returncode == plain.returncode, recorded.stderr[-2000:]
    assert pytest_counts(recorded.stdout) == pytest_counts(plain.stdout)


def test_snapshots_never_call_user_eq_hash_repr(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import sys
        calls = []
        class Hostile:
            def __eq__(self, other):
                calls.append("eq"); raise RuntimeError("__eq__ called")
            def __hash__(self):
                calls.append("hash"); raise RuntimeError("__hash__ called")
            def __repr__(self):
                calls.append("repr")
                while True:
                    pass
            __str__ = __repr__
        class Box:
            pass
        CONFIG = {"h": Hostile(), "items": [Hostile()]}
        BOX = Box()
        BOX.inner = Hostile()
        for i in range(5):
            CONFIG["h"] = Hostile()
            CONFIG["items"].append(Hostile())
            BOX.inner = Hostile()
            BOX.n = i
        print("calls:", calls)
    """,
    )
    r = spyrec(["run", "-o", "rec", "-w", "__main__.CONFIG", "-w", "__main__.BOX", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "calls: []\n"
    for expr in ("__main__.CONFIG", "__main__.BOX"):
        q = spyrec(["query", "-r", "rec", "history", expr], tmp_path)
        assert q.returncode == 0 and "Traceback" not in q.stderr, q.stderr


def test_recordings_are_owner_only(tmp_path):
    write(tmp_path, "app.py", "import os\nos.environ['SECRET'] = 'x'\n")
    old = os.umask(0)
    try:
        r = spyrec(["run", "app.py"], tmp_path)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    base = tmp_path / ".spyrec"
    rec = base / os.readlink(base / "latest")
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(rec).st_mode) == 0o700
    for f in os.listdir(rec):
        assert stat.S_IMODE(os.stat(rec / f).st_mode) == 0o600, f


def test_reading_never_unpickles(tmp_path):
    # Nothing in the reading path may import pickle/marshal-based loaders for recorded data.
    src = open(os.path.join(REPO, "pyfrontend", "spyrec", "api.py")).read()
    assert "pickle" not in src and "marshal" not in src and "eval(" not in src


def test_spyrec_run_imports_little_before_the_program(tmp_path):
    """Every recorded program's start-up pays for what `spyrec run` imports, and
    sees it in sys.modules: not the query side, argparse, dataclasses, json,
    re, signal (its enums), ast or dis; with the default watches (dotted
    names), not _ast or collections either."""
    write(tmp_path, "app.py", "import sys\nprint(' '.join(sorted(sys.modules)))\n")
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert "spyrec._core" in loaded  # the check itself works
    for heavy in (
        "spyrec.api",
        "spyrec.report",
        "argparse",
        "dataclasses",
        "inspect",
        "json",
        "re",
        "signal",
        "ast",
        "dis",
        "_ast",
        "collections",
    ):
        assert heavy not in loaded, heavy


def test_a_followed_child_imports_little_too(tmp_path):
    """A followed child reads the settings its parent offered without json or
    ast (their imports, re and enum, would be every child's start-up)."""
    child = "import sys; print(' '.join(sorted(sys.modules)))"
    write(tmp_path, "app.py", f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n")
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert "spyrec._core" in loaded, r.stdout  # the child did record
    for heavy in ("json", "re", "ast", "enum", "signal", "spyrec.api"):
        assert heavy not in loaded, heavy
    assert os.listdir(tmp_path / "rec" / "children")
