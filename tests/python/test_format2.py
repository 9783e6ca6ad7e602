"""Reading format 2 (ops + keyframes) end to end, on recordings written by the
C++ fixture writer (tests/cpp/make_recording.cpp, built by scripts/test.sh
into build/cpp-tests): streaming history in bounded memory, sub-path queries,
never-found watches, opaque notes, format 1 refused."""

import inspect
import json
import os
import resource
import subprocess
import sys

import pytest
from _programs import REPO, env, spyrec

MAKE_RECORDING = os.environ.get(
    "SPYREC_MAKE_RECORDING", os.path.join(REPO, "build", "cpp-tests", "tests", "cpp", "make_recording")
)

pytestmark = pytest.mark.skipif(
    not os.access(MAKE_RECORDING, os.X_OK),
    reason=f"{MAKE_RECORDING} is not built (scripts/test.sh builds it with the C++ tests)",
)


def make(tmp_path, *args):
    out = tmp_path / "rec"
    out.mkdir()
    subprocess.run([MAKE_RECORDING, args[0], str(out), *map(str, args[1:])], check=True)
    return out


@pytest.fixture()
def cli(tmp_path):
    return make(tmp_path, "cli")


def query(rec, *args):
    return spyrec(["query", "-r", str(rec), *args], rec.parent)


def test_history_of_any_size_runs_in_bounded_memory(tmp_path):
    # 1500 changes of a 600 kB list: every before/after at once would be
    # 1.8 GB; streamed, one change at a time, it fits well under 1 GiB.
    rec = make(tmp_path, "big", 1500, 100, 6000)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    r = subprocess.run(
        [sys.executable, "-m", "spyrec", "query", "-r", str(rec), "history", "app.BIG", "--json"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )
    assert r.returncode == 0, r.stderr


def test_streamed_history_json_is_the_same_array(tmp_path):
    rec = make(tmp_path, "big", 300, 3, 4)
    r = query(rec, "history", "app.BIG", "--json")
    assert r.returncode == 0, r.stderr
    changes = json.loads(r.stdout)
    assert [c["seq"] for c in changes] == list(range(1, 301))
    assert changes[0]["before"] == ["aaaa", "bbbb", "cccc"]
    assert changes[299]["after"] == [300, "bbbb", "cccc"]
    assert changes[256]["before"] == [256, "bbbb", "cccc"]  # across a keyframe
    assert r.stdout == json.dumps(changes, indent=2, ensure_ascii=False) + "\n"


def test_changes_and_iteration_are_lazy(cli):
    import spyrec as api

    rec = api.open(str(cli))
    assert inspect.isgenerator(rec.changes())
    assert inspect.isgenerator(iter(rec))
    first = next(iter(rec))
    assert (first.seq, first.expr, first.after) == (1, "os.environ", {"HOME": "/home/user", "TZ": "UTC"})
    assert [c.seq for c in rec.changes(seq_range=(2, 4))] == [2, 3]


def test_sub_path_history_from_the_prefix_watch(cli):
    r = query(cli, "history", "os.environ['TZ']", "--json")
    assert r.returncode == 0, r.stderr
    changes = json.loads(r.stdout)
    assert [(c["seq"], c["kind"], c["before"], c["after"]) for c in changes] == [
        (1, "appeared", None, "UTC"),
        (3, "modified", "UTC", "Europe/Paris"),
        (4, "vanished", "Europe/Paris", None),
    ]
    assert {c["expr"] for c in changes} == {"os.environ['TZ']"}
    assert changes[0]["file"] == "fixture/app.py" and changes[0]["opname"] == "STORE_SUBSCR"


def test_sub_path_last_change_and_value(cli):
    r = query(cli, "last-change", 'os.environ["HOME"]', "--json")
    assert r.returncode == 0, r.stderr
    change = json.loads(r.stdout)
    assert (change["expr"], change["seq"], change["before"], change["after"]) == (
        "os.environ['HOME']",
        2,
        "/home/user",
        "/x",
    )
    r = query(cli, "value", "os.environ['TZ']", "--at", "3", "--json")
    assert json.loads(r.stdout) == {"expr": "os.environ['TZ']", "seq": 3, "exists": True, "value": "Europe/Paris"}

    import spyrec as api

    rec = api.open(str(cli))
    assert rec.value_at("os.environ['TZ']", 1) == "UTC"
    assert rec.value_at("os.environ['TZ']", 4, default=None) is None
    assert [c.seq for c in rec.history("os.environ['TZ']")] == [1, 3, 4]
    assert rec.last_change("os.environ['TZ']").kind == "vanished"


def test_sub_path_that_never_changed_exits_1(cli):
    r = query(cli, "history", "os.environ['NOPE']")
    assert r.returncode == 1
    assert "inside the watch os.environ" in r.stderr and "never changed" in r.stderr


def test_a_watch_that_was_never_found_says_why(cli):
    for question in ("last-change", "history"):
        r = query(cli, question, "__main__.SETINGS")
        assert r.returncode == 1
        assert r.stderr.strip() == "spyrec: `__main__.SETINGS` was never found: `__main__` has no SETINGS"


def test_watches_show_never_found_reasons_and_opaque_notes(cli):
    r = query(cli, "watches")
    assert r.returncode == 0, r.stderr
    assert "never found: `__main__` has no SETINGS" in r.stdout
    assert "numpy.ndarray at ['arr']: tracks rebinding only" in r.stdout
    watches = {w["expr"]: w for w in json.loads(query(cli, "watches", "--json").stdout)}
    assert watches["__main__.SETINGS"]["never_found"] is True
    assert watches["app.STATE"]["opaque"] == [
        {"type": "numpy.ndarray", "tracked": "rebinding only", "where": "['arr']"}
    ]
    assert watches["app.STATE"]["initial"] == {"arr": "<numpy.ndarray object #51>"}
    assert watches["os.environ"]["never_found"] is False


def test_format_1_is_refused_naming_both_versions(tmp_path):
    rec = make(tmp_path, "format1")
    r = query(rec, "info")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "spyrec: error: recording format version 1 was written by an older spyrec; this spyrec reads formats 2 to 3"
    )
