"""Child processes: every child Python (fork, multiprocessing's fork, spawn
and forkserver, subprocess) records into DIR/children/<pid>, and `query`
reads the recording and its children as one timeline."""

import json
import os
import signal

import pytest
from _programs import run_python, spyrec, write

WORKER = """
    import multiprocessing as mp, os, sys

    CONFIG = {"mode": "start"}

    def work(tag, pidfile):
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
        CONFIG["mode"] = tag                       # line 9: the worker's culprit

    if __name__ == "__main__":
        CONFIG["mode"] = "before"                  # line 12
        ctx = mp.get_context(sys.argv[1])
        p = ctx.Process(target=work, args=(sys.argv[1], "worker.pid"))
        p.start(); p.join()
        CONFIG["mode"] = "after"                   # line 16
        sys.exit(p.exitcode)
"""


def query(tmp_path, *args, rc=0):
    r = spyrec(["query", "-r", "rec", *args], tmp_path)
    assert r.returncode == rc, r.stderr
    return json.loads(r.stdout) if "--json" in args else r.stdout


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_multiprocessing_worker_s_change_has_its_pid_and_exact_culprit(tmp_path, method):
    write(tmp_path, "app.py", WORKER)
    r = spyrec(["run", "-o", "rec", "-w", "__main__.CONFIG", "app.py", method], tmp_path)
    assert r.returncode == 0, r.stderr
    worker = int((tmp_path / "worker.pid").read_text())
    parent = query(tmp_path, "info", "--json")["pid"]
    history = query(tmp_path, "history", "__main__.CONFIG", "--json")
    # The worker's change, exactly: its pid, file, line, opname, values.
    mine = [c for c in history if c["pid"] == worker and c["kind"] == "modified"]
    assert len(mine) == 1, history
    assert (mine[0]["file"].endswith("app.py"), mine[0]["line"], mine[0]["opname"]) == (True, 9, "STORE_SUBSCR")
    assert mine[0]["after"] == {"mode": method}
    # One timeline: the parent's change before the worker's, the parent's after it.
    order = [(c["pid"], c["line"]) for c in history if c["kind"] == "modified"]
    assert order == [(parent, 12), (worker, 9), (parent, 16)], order
    clocks = [c["monotonic_ns"] for c in history]
    assert clocks == sorted(clocks) and all(clocks)
    # --pid keeps one process's changes; last-change looks at every process.
    only_worker = query(tmp_path, "history", "__main__.CONFIG", "--pid", str(worker), "--json")
    assert {c["pid"] for c in only_worker} == {worker}
    assert query(tmp_path, "last-change", "__main__.CONFIG", "--json")["line"] == 16
    assert query(tmp_path, "last-change", "__main__.CONFIG", "--pid", str(worker), "--json")["line"] == 9
    # info lists the worker with its ending; text output names the process.
    children = {c["pid"]: c for c in query(tmp_path, "info", "--json")["children"]}
    assert worker in children and children[worker]["parent_pid"] > 0
    assert children[worker]["ending"]["how"] == "exited"
    text = query(tmp_path, "history", "__main__.CONFIG")
    assert f"in process pid {worker} (python " in text


def test_os_fork_child_s_exit_status_and_culprit(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import os, sys
        pid = os.fork()
        if pid == 0:
            sys.path.append("/from-the-child")     # line 5
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print(pid, os.waitstatus_to_exitcode(status))
    """,
    )
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    child, status = map(int, r.stdout.split())
    assert status == 3  # the program sees what plain python gives
    last = query(tmp_path, "last-change", "sys.path", "--json")
    assert (last["pid"], last["line"], last["opname"]) == (child, 5, "CALL")
    assert last["after"][-1] == "/from-the-child"
    (entry,) = query(tmp_path, "info", "--json")["children"]
    assert entry["pid"] == child and entry["ending"]["exit_status"] == 3


def test_a_subprocess_with_its_own_env_is_followed_and_sees_no_difference(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import os, subprocess, sys
        code = ("import os, sys; print(sorted(k for k in os.environ if 'SPYREC' in k)); "
                "sys.path.insert(0, '/from-the-subprocess'); sys.exit(4)")
        r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, EXTRA="1"))
        print(r.returncode, sorted(k for k in os.environ if "SPYREC" in k))
    """,
    )
    plain = run_python(["app.py"], tmp_path)
    recorded = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert recorded.returncode == plain.returncode == 0, recorded.stderr
    assert recorded.stdout == plain.stdout == "[]\n4 []\n"
    last = query(tmp_path, "last-change", "sys.path", "--json")
    assert last["pid"] != query(tmp_path, "info", "--json")["pid"]
    assert (last["file"], last["line"], last["opname"]) == ("<string>", 1, "CALL")
    assert last["after"][0] == "/from-the-subprocess"


def test_a_child_killed_by_sigkill_keeps_what_it_committed(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import multiprocessing as mp, os, signal, sys, time

        def work():
            sys.path.append("/before-the-kill")
            time.sleep(0.5)                        # the writer commits every 50 ms
            os.kill(os.getpid(), signal.SIGKILL)

        if __name__ == "__main__":
            p = mp.get_context("fork").Process(target=work)
            p.start(); p.join()
            print(p.exitcode)
    """,
    )
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0 and r.stdout == f"{-signal.SIGKILL}\n", r.stderr
    last = query(tmp_path, "last-change", "sys.path", "--json")
    assert last["after"][-1] == "/before-the-kill" and last["line"] == 5
    (entry,) = query(tmp_path, "info", "--json")["children"]
    assert entry["ending"] is None
    assert "did not finish (killed)" in query(tmp_path, "info")


def test_no_follow_records_the_parent_only(tmp_path):
    write(tmp_path, "app.py", WORKER)
    r = spyrec(["run", "-o", "rec", "--no-follow", "-w", "__main__.CONFIG", "app.py", "fork"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "rec" / "children").exists()
    history = query(tmp_path, "history", "__main__.CONFIG", "--json")
    assert [c["line"] for c in history if c["kind"] == "modified"] == [12, 16]
    assert "children" not in query(tmp_path, "info", "--json")


def test_an_unreadable_child_is_named_and_skipped(tmp_path):
    write(tmp_path, "app.py", WORKER)
    assert spyrec(["run", "-o", "rec", "-w", "__main__.CONFIG", "app.py", "fork"], tmp_path).returncode == 0
    bad = tmp_path / "rec" / "children" / "99999"
    bad.mkdir()
    (bad / "data.mdb").write_bytes(os.urandom(8192))
    history = query(tmp_path, "history", "__main__.CONFIG", "--json")
    assert len([c for c in history if c["kind"] == "modified"]) == 3
    info = query(tmp_path, "info", "--json")
    assert [u["path"] for u in info["unreadable_children"]] == [os.path.join("children", "99999")]
    text = query(tmp_path, "info")
    assert "1 unreadable" in text and "children/99999: unreadable, skipped:" in text
    r = spyrec(["query", "-r", "rec", "history", "__main__.CONFIG", "--pid", "1"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no process 1" in r.stderr


def test_record_api_follows_children_unless_told_not_to(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import subprocess, sys
        import spyrec
        code = "import sys; sys.path.append('/child')"
        for follow, out in ((True, "on"), (False, "off")):
            with spyrec.record(output=out, follow_children=follow) as rec:
                subprocess.run([sys.executable, "-c", code], check=True)
            last = rec.last_change("sys.path")
            print(out, len(rec.children()), last is not None and last.after[-1] == "/child")
    """,
    )
    r = run_python(["app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["on 1 True", "off 0 False"]


def test_a_child_forked_from_a_thread_ends_when_its_last_thread_does(tmp_path):
    # The child's only Python thread returns instead of finalizing: no atexit,
    # no exit(); the process must still end (spyrec's writer thread must not
    # keep it alive), with the status plain python gives.
    write(
        tmp_path,
        "app.py",
        """
        import os, sys, threading

        def worker():
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                print("child status", os.waitstatus_to_exitcode(status), flush=True)
                return
            sys.path.append("/forked-from-a-thread")

        t = threading.Thread(target=worker)
        t.start()
        t.join()
    """,
    )
    plain = run_python(["-W", "ignore::DeprecationWarning", "app.py"], tmp_path)
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path, input="")
    assert r.returncode == plain.returncode == 0, r.stderr
    assert r.stdout == plain.stdout == "child status 0\n"
    (entry,) = query(tmp_path, "info", "--json")["children"]
    assert entry["ending"]["how"] == "exited" and "last thread ended" in entry["ending"]["message"]
    last = query(tmp_path, "last-change", "sys.path", "--json")
    assert (last["pid"], last["line"], last["after"][-1]) == (entry["pid"], 10, "/forked-from-a-thread")
