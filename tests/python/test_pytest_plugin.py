"""`pytest --spyrec`: the plugin finds the tests that leak state, names the
culprit instruction of each leak, and leaves pytest's outcome alone.

Each test builds a small project with pytest's `pytester` and runs pytest on
it in a subprocess (a real session, as a user runs it), then reads what the
plugin printed and what `spyrec query` answers from its recording.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from _programs import REPO
from _programs import env as program_env

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester, monkeypatch):
    # The spyrec under test (installed, or a mutant's PYTHONPATH) is the one
    # the inner pytest must load its plugin from.
    monkeypatch.setenv("PYTHONPATH", program_env()["PYTHONPATH"])
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def query(pytester, *args):
    return subprocess.run(
        [sys.executable, "-m", "spyrec", "query", *args],
        cwd=pytester.path,
        env=program_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def section(result) -> str:
    """The plugin's part of the terminal summary: from its title line to the next one."""
    text = result.stdout.str()
    m = re.search(r"^=+ spyrec: .*?(?=^=+ |\Z)", text, re.M | re.S)
    assert m, text
    return m.group(0)


def leaks_json(pytester) -> list:
    r = query(pytester, "leaks", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


SAMPLE = os.path.join(REPO, "samples", "pytest_pollution")


@pytest.fixture
def sample(project):
    shutil.copytree(
        SAMPLE,
        project.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".spyrec", "__pycache__", ".pytest_cache"),
    )
    return project


def test_the_sample_names_each_leaking_test_and_its_culprit(sample):
    result = run(sample, "--spyrec")
    result.assert_outcomes(passed=4, failed=3)
    text = section(result)
    assert "spyrec: 3 leaks in 3 tests" in text, text
    # The node id, the expression, before -> after, the culprit as FILE:LINE in FUNCTION (OPNAME).
    assert "tests/test_plugins.py::test_register_handler leaked inventory.HANDLERS:" in text
    assert '[] -> ["<built-in function print>"]' in text
    assert "culprit (call): inventory/__init__.py:9 in register (CALL)" in text
    # A fixture's leak: made during setup, by the fixture's own instruction.
    assert "tests/test_plugins.py::test_plugin_dir leaked sys.path:" in text
    assert "culprit (setup): tests/conftest.py:10 in plugin_dir (CALL)" in text
    # A leak made inside the stdlib (os.environ's __setitem__) also names the
    # user's line; pytest's own PYTEST_CURRENT_TEST changes are not the culprit.
    assert "tests/test_pricing.py::test_whole_numbers leaked os.environ:" in text
    assert "+ ['INVENTORY_MODE'] 'whole'" in text
    assert re.search(
        r"culprit \(call\): <frozen os>:\d+ in _Environ.__setitem__ \(STORE_SUBSCR\)\n"
        r"\s+from your code: tests/test_pricing.py:7 in test_whole_numbers",
        text,
    ), text
    # Restored changes are not leaks: monkeypatch.setenv, a yield fixture.
    assert "test_monkeypatched_mode" not in text.split("failed after")[0]
    assert "test_dollars leaked" not in text


def test_failing_tests_get_the_leaks_before_them_most_recent_first(sample):
    text = section(run(sample, "--spyrec"))
    block = text.split("tests/test_pricing.py::test_cents failed after these leaks (most recent first):\n")[1]
    named = re.findall(r"^    (\S+): (\S+)$", block, re.M)[:3]
    assert named == [
        ("tests/test_pricing.py::test_whole_numbers", "os.environ"),
        ("tests/test_plugins.py::test_plugin_dir", "sys.path"),
        ("tests/test_plugins.py::test_register_handler", "inventory.HANDLERS"),
    ], block
    # The first test to fail had only the two leaks of tests that ran before it.
    first = text.split("tests/test_plugins.py::test_no_handlers_yet failed after")[1].split("failed after")[0]
    assert "test_whole_numbers" not in first and "test_register_handler" in first


def test_query_leaks_json_and_each_change_knows_its_test(sample):
    run(sample, "--spyrec")
    leaks = leaks_json(sample)
    assert [(l["test"], l["expr"]) for l in leaks] == [
        ("tests/test_plugins.py::test_register_handler", "inventory.HANDLERS"),
        ("tests/test_plugins.py::test_plugin_dir", "sys.path"),
        ("tests/test_pricing.py::test_whole_numbers", "os.environ"),
    ]
    env_leak = leaks[2]
    assert "INVENTORY_MODE" not in env_leak["before"] and env_leak["after"]["INVENTORY_MODE"] == "whole"
    # Only the change that made the leak, not pytest's PYTEST_CURRENT_TEST bookkeeping.
    assert len(env_leak["changes"]) == 1, env_leak["changes"]
    change = env_leak["changes"][0]
    assert (change["test"], change["phase"]) == ("tests/test_pricing.py::test_whole_numbers", "call")
    assert change["opname"] == "STORE_SUBSCR" and change["stack"][1]["line"] == 7
    handlers = leaks[0]["changes"]
    assert handlers[-1]["function"] == "register" and handlers[-1]["phase"] == "call"
    # history: every change carries its test and phase; outside tests, null.
    r = query(sample, "history", "sys.path", "--json")
    history = json.loads(r.stdout)
    assert {(c["test"], c["phase"]) for c in history} >= {("tests/test_plugins.py::test_plugin_dir", "setup")}
    assert all(set(c) >= {"test", "phase"} for c in history)


def test_history_filters_by_test(sample):
    run(sample, "--spyrec")
    r = query(sample, "history", "os.environ", "--json", "--test", "test_pricing.py::test_whole_numbers")
    changes = json.loads(r.stdout)
    assert {c["test"] for c in changes} == {"tests/test_pricing.py::test_whole_numbers"}
    assert [c["phase"] for c in changes] == ["setup", "call", "call", "teardown", "teardown"]
    text = query(sample, "history", "os.environ", "--test", "test_pricing.py::test_whole_numbers").stdout
    assert "in test tests/test_pricing.py::test_whole_numbers (call)" in text
    r = query(sample, "history", "os.environ", "--test", "test_nope")
    assert r.returncode == 2 and "no test 'test_nope'" in r.stderr and "Traceback" not in r.stderr


def test_text_stacks_fold_pytest_frames(sample):
    run(sample, "--spyrec")
    out = query(sample, "last-change", "sys.path").stdout
    assert re.search(r"… \d+ pytest frames", out), out
    assert "pluggy" not in out, out
    full = json.loads(query(sample, "last-change", "sys.path", "--json").stdout)
    assert any("pluggy" in f["file"] for f in full["stack"]), "--json keeps every frame"


LEAKY = """
    import functools
    import os
    import sys
    from unittest import mock

    import pytest

    REGISTRY = {}

    def registers(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            REGISTRY[fn.__name__] = fn          # the decorator leaks, on every call
            return fn(*args, **kwargs)
        return wrapper

    @registers
    def test_decorated():
        pass

    @mock.patch.dict(os.environ, {"PATCHED": "1"})
    def test_patch_dict_restores():
        assert os.environ["PATCHED"] == "1"

    @pytest.fixture
    def temporary_path_entry():
        sys.path.append("/somewhere")
        yield
        sys.path.remove("/somewhere")

    def test_yield_fixture_restores(temporary_path_entry):
        pass

    def test_undoes_its_own_change():
        REGISTRY["tmp"] = 1
        del REGISTRY["tmp"]
"""


def test_decorator_culprit_and_restored_changes(project):
    project.makepyfile(test_leaky=LEAKY)
    result = run(project, "--spyrec", "--spyrec-watch", "test_leaky.REGISTRY")
    result.assert_outcomes(passed=4)
    text = section(result)
    assert "spyrec: 1 leak in 1 test" in text, text
    assert "test_leaky.py::test_decorated leaked test_leaky.REGISTRY:" in text
    assert "culprit (call): test_leaky.py:13 in registers.<locals>.wrapper (STORE_SUBSCR)" in text
    leaks = leaks_json(project)
    assert [l["test"] for l in leaks] == ["test_leaky.py::test_decorated"]


def test_ini_watches_and_no_leaks(project):
    project.makeini("[pytest]\nspyrec_watch =\n    test_clean.STATE\n")
    project.makepyfile(test_clean="STATE = []\n\ndef test_reads():\n    assert STATE == []\n")
    result = run(project, "--spyrec")
    result.assert_outcomes(passed=1)
    assert "spyrec: no leaks" in section(result)
    watches = json.loads(query(project, "watches", "--json").stdout)
    assert "test_clean.STATE" in [w["expr"] for w in watches]
    assert leaks_json(project) == []


def test_child_pythons_started_by_tests_are_recorded_unless_told_not_to(project):
    project.makepyfile(
        test_child="""
        import subprocess, sys

        def test_runs_a_python():
            code = "import sys; sys.path.append('/set-by-the-child')"
            subprocess.run([sys.executable, "-c", code], check=True)
    """
    )
    run(project, "--spyrec").assert_outcomes(passed=1)
    last = json.loads(query(project, "last-change", "sys.path", "--json").stdout)
    assert last["after"][-1] == "/set-by-the-child" and last["file"] == "<string>"
    info = json.loads(query(project, "info", "--json").stdout)
    assert [c["pid"] for c in info["children"]] == [last["pid"]]
    run(project, "--spyrec", "--spyrec-no-follow").assert_outcomes(passed=1)
    assert "children" not in json.loads(query(project, "info", "--json").stdout)


def test_outcome_and_exit_status_are_those_of_plain_pytest(sample):
    plain = run(sample)
    recorded = run(sample, "--spyrec")
    assert recorded.ret == plain.ret == 1
    assert recorded.parseoutcomes() == plain.parseoutcomes()
    assert "spyrec:" not in plain.stdout.str()


def test_without_the_flag_or_with_the_plugin_off_nothing_is_recorded(project):
    project.makepyfile(test_one="def test_one():\n    pass\n")
    run(project).assert_outcomes(passed=1)
    assert not (project.path / ".spyrec").exists()
    off = run(project, "-p", "no:spyrec", "--spyrec")
    assert off.ret == pytest.ExitCode.USAGE_ERROR
    assert "unrecognized arguments: --spyrec" in off.stderr.str()
    assert not (project.path / ".spyrec").exists()


def test_xdist_is_refused_in_one_line(project):
    pytest.importorskip("xdist", reason="pytest-xdist is installed by scripts/setup.sh")
    project.makepyfile(test_one="def test_one():\n    pass\n")
    result = run(project, "--spyrec", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [l for l in result.stderr.lines if "xdist" in l]
    assert len(errors) == 1 and "--spyrec" in errors[0], result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_a_bad_watch_is_a_usage_error(project):
    project.makepyfile(test_one="def test_one():\n    pass\n")
    result = run(project, "--spyrec", "--spyrec-watch", "os.environ[HOME]")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--spyrec-watch" in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_query_leaks_on_a_recording_without_tests(tmp_path):
    (tmp_path / "prog.py").write_text("import sys\nsys.path.append('x')\n")
    env = program_env()
    subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "prog.py"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    r = subprocess.run(
        [sys.executable, "-m", "spyrec", "query", "leaks"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "pytest --spyrec" in r.stderr and len(r.stderr.splitlines()) == 1


def test_replay_stops_in_pdb_at_the_culprit_inside_the_pytest_run(sample):
    from _pty import drive, stops

    recorded = run(sample, "--spyrec")
    status, out = drive(
        ["replay", "--break-before", "change", "os.environ['INVENTORY_MODE']", "1"],
        sample.path,
        [b"p key, value", b"up", b"p __name__", b"q"],
    )
    assert "output capture off" in out, out
    where = stops(out)
    assert where[0][0] == "<frozen os>" and where[0][2] == "__setitem__", out
    # The stop is at the recorded change, not at an earlier run of the same
    # instruction (pytest sets PYTEST_CURRENT_TEST with it before every phase).
    assert "(b'INVENTORY_MODE', b'whole')" in out, out
    assert where[1][0].endswith("test_pricing.py") and where[1][1] == "7", out
    # pdb talks to the terminal (capture is off); `q` ends the session as in `pytest --pdb`.
    assert "'test_pricing'" in out
    assert status == pytest.ExitCode.INTERRUPTED, out
    # Up to the stop the replayed session has the recorded outcomes: the
    # tests before test_whole_numbers passed and failed as recorded.
    progress = out.split("output capture off")[1].split("spyrec: stopped")[0]
    recorded_progress = re.search(r"^tests/test_plugins.py (\S+)", recorded.stdout.str(), re.M)
    assert recorded_progress and recorded_progress.group(1) in progress.replace("\n", ""), (
        progress,
        recorded.stdout.str(),
    )


def test_no_place_to_record_is_one_line(project):
    # .spyrec is a file, so no recording directory can be made (root writes
    # through read-only modes, so that is no test).
    (project.path / ".spyrec").write_text("not a directory")
    project.makepyfile(test_one="def test_one():\n    pass\n")
    result = run(project, "--spyrec")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    err = result.stderr.str()
    assert "--spyrec cannot record here" in err and "Traceback" not in err and "INTERNALERROR" not in err
