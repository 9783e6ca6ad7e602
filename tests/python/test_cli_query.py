"""End to end through the command: record samples/syspath_demo.py, then query it."""

import json
import os
import shutil

import pytest
from _programs import REPO, spyrec, write

CONTRACT_FIELDS = {"expr", "seq", "thread", "file", "line", "function", "offset", "opname", "stack", "before", "after"}


@pytest.fixture()
def demo(tmp_path):
    shutil.copytree(os.path.join(REPO, "samples"), tmp_path / "samples")
    r = spyrec(["run", "samples/syspath_demo.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sys.path[0] is now animals" in r.stdout
    assert os.path.islink(tmp_path / ".spyrec" / "latest")
    return tmp_path


def test_last_change_of_sys_path_is_the_insert_call(demo):
    r = spyrec(["query", "last-change", "sys.path", "--json"], demo)
    assert r.returncode == 0, r.stderr
    change = json.loads(r.stdout)
    assert CONTRACT_FIELDS <= set(change)
    assert change["file"].endswith("samples/syspath_demo.py")
    assert change["line"] == 9
    assert change["function"] == "<module>"
    assert change["opname"] == "CALL"
    assert change["after"][0] == "animals"
    assert change["stack"][0]["line"] == 9
    assert isinstance(change["seq"], int) and isinstance(change["offset"], int)


def test_human_last_change_names_the_line_and_instruction(demo):
    r = spyrec(["query", "last-change", "sys.path"], demo)
    assert r.returncode == 0, r.stderr
    first, source, carets = r.stdout.splitlines()[:3]
    assert first == "sys.path changed at samples/syspath_demo.py:9 in <module>"
    assert 'sys.path.insert(0, "animals")' in source
    assert "^" in carets and "CALL (offset" in carets and "thread MainThread" in carets
    assert "+ [0] 'animals'" in r.stdout


def test_history_is_a_json_array_oldest_first(demo):
    r = spyrec(["query", "history", "sys.path", "--json"], demo)
    assert r.returncode == 0, r.stderr
    changes = json.loads(r.stdout)
    assert changes and all(CONTRACT_FIELDS <= set(c) for c in changes)
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs)


def test_value_at_before_and_after_the_change(demo):
    change = json.loads(spyrec(["query", "last-change", "sys.path", "--json"], demo).stdout)
    after = json.loads(spyrec(["query", "value", "sys.path", "--at", str(change["seq"]), "--json"], demo).stdout)
    assert after["exists"] and after["value"][0] == "animals"


def test_unwatched_expression_exits_1_and_says_how_to_watch_it(demo):
    r = spyrec(["query", "last-change", "json.decoder.scanstring"], demo)
    assert r.returncode == 1
    assert "sys.path" in r.stderr and "--watch" in r.stderr
    assert "Traceback" not in r.stderr


def test_watched_but_unchanged_exits_1(demo):
    r = spyrec(["query", "last-change", "sys.path_hooks"], demo)
    assert r.returncode == 1
    assert "never changed" in r.stderr


@pytest.mark.parametrize("question", [["info"], ["watches"], ["exceptions"]])
def test_other_questions_answer_in_json(demo, question):
    r = spyrec(["query", *question, "--json"], demo)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)


def test_watches_include_the_defaults_and_user_watches(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import json
        CONFIG = {"db": {"host": "a"}}
        CONFIG["db"]["host"] = "b"
    """,
    )
    r = spyrec(["run", "-w", '__main__.CONFIG["db"]', "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    watches = json.loads(spyrec(["query", "-r", "rec", "watches", "--json"], tmp_path).stdout)
    exprs = {w["expr"] for w in watches}
    assert {"sys.path", "sys.meta_path", "sys.path_hooks", "os.environ", "__main__.CONFIG['db']"} <= exprs
    r = spyrec(["query", "-r", "rec", "last-change", "__main__.CONFIG['db']", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["line"] == 4


def test_exit_status_of_the_program_is_kept(tmp_path):
    write(tmp_path, "app.py", "import sys; sys.path.append('x'); sys.exit(3)")
    r = spyrec(["run", "--no-default-watches", "-w", "sys.path", "app.py"], tmp_path)
    assert r.returncode == 3
    info = json.loads(spyrec(["query", "info", "--json"], tmp_path).stdout)
    assert info["ending"]["exit_status"] == 3


def test_print_shows_each_change_on_stderr(tmp_path):
    write(tmp_path, "app.py", "import sys\nsys.path.append('zzz')\n")
    r = spyrec(["run", "--print", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sys.path changed at app.py:2" in r.stderr
    assert "'zzz'" in r.stderr


def test_a_negative_seq_is_one_line_of_usage(demo):
    r = spyrec(["query", "value", "sys.path", "--at", "-3"], demo)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "whole number" in r.stderr and "internal error" not in r.stderr


def test_a_sub_path_that_never_changed_says_which_watch_holds_it(demo):
    r = spyrec(["query", "last-change", "sys.path[99]"], demo)
    assert r.returncode == 1
    assert "is inside the watch sys.path but never changed" in r.stderr, r.stderr


def test_query_exceptions_json_names_each_raise(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        def lookup(d):
            return d["missing"]                    # line 3

        for _ in range(2):
            try:
                lookup({})
            except KeyError:
                pass
    """,
    )
    assert spyrec(["run", "-o", "rec", "app.py"], tmp_path).returncode == 0
    r = spyrec(["query", "-r", "rec", "exceptions", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    mine = [e for e in json.loads(r.stdout) if e["file"].endswith("app.py")]
    assert [(e["type"], e["line"], e["function"], e["opname"], e["reraised"]) for e in mine][:2] == [
        ("KeyError", 3, "lookup", "BINARY_SUBSCR", False)
    ] * 2
    assert mine[0]["seq"] < mine[1]["seq"] and mine[0]["message"] == "'missing'"


def test_an_instruction_raising_in_a_loop_keeps_every_raise_and_its_first_stacks(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        def lookup(d):
            return d["missing"]                    # line 3

        def outer():
            for _ in range(20):
                try:
                    lookup({})
                except KeyError:
                    pass

        outer()
    """,
    )
    assert spyrec(["run", "-o", "rec", "app.py"], tmp_path).returncode == 0
    r = spyrec(["query", "-r", "rec", "exceptions", "--json"], tmp_path)
    mine = [e for e in json.loads(r.stdout) if e["file"].endswith("app.py")]
    assert len(mine) == 20 and {e["line"] for e in mine} == {3}
    assert [len(e["stack"]) for e in mine[:16]] == [3] * 16 and [e["frames_left_out"] for e in mine[:16]] == [0] * 16
    assert [len(e["stack"]) for e in mine[16:]] == [1] * 4 and [e["frames_left_out"] for e in mine[16:]] == [2] * 4
    text = spyrec(["query", "-r", "rec", "exceptions"], tmp_path).stdout
    assert text.count("2 outer frames not stored: this instruction raised more than 16 times") == 4
