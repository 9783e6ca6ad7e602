"""Crash safety under `spyrec run`: however the program ends, the recording
holds what was committed, `query info` says how it ended, and the program's
exit status and stderr are what plain python gives."""

import json
import signal
import subprocess
import sys

import pytest
from _programs import env, run_python, spyrec, write


def info(tmp_path, rec="rec"):
    r = spyrec(["query", "-r", rec, "info", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def path_history(tmp_path, rec="rec", pid=None):
    """sys.path[0] after each change (of process `pid` only, when given)."""
    only = ["--pid", str(pid)] if pid is not None else []
    r = spyrec(["query", "-r", rec, "history", "sys.path", "--json", *only], tmp_path)
    assert r.returncode in (0, 1), r.stderr
    return [c["after"][0] for c in json.loads(r.stdout)]


def both(tmp_path, source, *args):
    """(plain python result, spyrec run result) for the same program."""
    write(tmp_path, "app.py", source)
    plain = run_python(["app.py", *args], tmp_path)
    recorded = spyrec(["run", "-o", "rec", "app.py", *args], tmp_path)
    return plain, recorded


def same_behaviour(plain, recorded):
    assert recorded.returncode == plain.returncode, (plain.stderr, recorded.stderr)
    assert recorded.stdout == plain.stdout
    assert recorded.stderr == plain.stderr


def test_unhandled_exception_keeps_status_stderr_and_says_exception(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import sys
        sys.path.insert(0, "a")
        raise ValueError("boom")
    """,
    )
    same_behaviour(plain, recorded)
    assert recorded.returncode == 1
    ending = info(tmp_path)["ending"]
    assert ending["how"] == "exception" and ending["exit_status"] == 1
    assert "ValueError: boom" in ending["message"]
    assert path_history(tmp_path) == ["a"]


@pytest.mark.parametrize("call,status", [("sys.exit(3)", 3), ("os._exit(5)", 5), ("sys.exit('bye')", 1)])
def test_exit_mid_work_keeps_status_and_everything_before(tmp_path, call, status):
    plain, recorded = both(
        tmp_path,
        f"""
        import os, sys
        for i in range(50):
            sys.path.insert(0, str(i))
        print("done", flush=True)
        {call}
        sys.path.insert(0, "never")
    """,
    )
    same_behaviour(plain, recorded)
    assert recorded.returncode == status
    ending = info(tmp_path)["ending"]
    assert ending["how"] == "exited" and ending["exit_status"] == status
    assert path_history(tmp_path) == [str(i) for i in range(50)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_keeps_status_and_says_signal(tmp_path, signum):
    source = """
        import sys, time
        sys.path.insert(0, "before-signal")
        print("ready", flush=True)
        time.sleep(30)
    """
    write(tmp_path, "app.py", source)
    results = []
    for cmd in ([sys.executable, "app.py"], [sys.executable, "-m", "spyrec", "run", "-o", "rec", "app.py"]):
        p = subprocess.Popen(cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signum)
        out, err = p.communicate(timeout=30)
        results.append((p.returncode, err))
    (plain_status, plain_err), (rec_status, rec_err) = results
    assert rec_status == plain_status == -signum
    if signum == signal.SIGTERM:
        assert rec_err == plain_err == ""
    else:  # KeyboardInterrupt's traceback, same last line
        assert rec_err.splitlines()[-1] == plain_err.splitlines()[-1] == "KeyboardInterrupt"
    ending = info(tmp_path)["ending"]
    assert ending["how"] == "signal" and ending["signal"] == signum
    assert path_history(tmp_path) == ["before-signal"]


def test_sigkill_loses_at_most_the_last_batch(tmp_path):
    # Changes, then a pause longer than two batch intervals (kBatchMillis = 50),
    # then a marker: every change made before the marker must be committed.
    write(
        tmp_path,
        "app.py",
        """
        import sys, time
        for i in range(2000):
            sys.path.insert(0, str(i))
        time.sleep(0.15)
        print("marker", flush=True)
        while True:
            sys.path.insert(0, "after")
            sys.path.pop(0)
    """,
    )
    p = subprocess.Popen(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "app.py"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline() == "marker\n"
    p.kill()
    p.wait(timeout=30)
    data = info(tmp_path)
    assert data["ending"] is None
    human = spyrec(["query", "-r", "rec", "info"], tmp_path).stdout
    assert "did not finish" in human
    assert path_history(tmp_path)[:2000] == [str(i) for i in range(2000)]


def test_segfault_keeps_status_and_commits_the_queue(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import ctypes, sys
        for i in range(10):
            sys.path.insert(0, str(i))
        ctypes.string_at(0)
    """,
    )
    assert recorded.returncode == plain.returncode == -signal.SIGSEGV
    assert recorded.stderr == plain.stderr
    # The crash handler has the writer commit the queue and an Ending.
    ending = info(tmp_path)["ending"]
    assert ending["how"] == "signal" and ending["signal"] == signal.SIGSEGV
    assert path_history(tmp_path) == [str(i) for i in range(10)]


def test_abort_keeps_status(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import os, sys
        sys.path.insert(0, "x")
        os.abort()
    """,
    )
    assert recorded.returncode == plain.returncode == -signal.SIGABRT
    assert recorded.stderr == plain.stderr
    assert info(tmp_path)["ending"]["signal"] == signal.SIGABRT
    assert path_history(tmp_path) == ["x"]


def test_fork_child_never_writes_into_the_parents_recording(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import os, sys
        sys.path.insert(0, "parent-1")
        for n in range(3):
            pid = os.fork()
            if pid == 0:
                sys.path.insert(0, "child")
                print("child", n, flush=True)
                os._exit(0 if n else 4)
            os.waitpid(pid, 0)
        sys.path.insert(0, "parent-2")
        print("parent", flush=True)
    """,
    )
    # Same stdout and stderr: in particular no "multi-threaded fork" warning
    # because of the writer thread (it is stopped around fork()).
    same_behaviour(plain, recorded)
    parent = info(tmp_path)
    assert path_history(tmp_path, pid=parent["pid"]) == ["parent-1", "parent-2"]
    assert parent["ending"]["how"] == "exited"
    # Each child recorded its own change into its own recording.
    assert sorted(c["exit_status"] for c in (c["ending"] for c in parent["children"])) == [0, 0, 4]
    for child in parent["children"]:
        assert path_history(tmp_path, pid=child["pid"]) == ["child"]


def test_fork_then_exit_in_child_by_exception(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import os, sys
        pid = os.fork()
        if pid == 0:
            sys.path.insert(0, "child")
            raise SystemExit(7)
        _, status = os.waitpid(pid, 0)
        sys.path.insert(0, f"child status {os.waitstatus_to_exitcode(status)}")
    """,
    )
    same_behaviour(plain, recorded)
    assert path_history(tmp_path, pid=info(tmp_path)["pid"]) == ["child status 7"]
    assert path_history(tmp_path) == ["child", "child status 7"]  # one timeline


def test_multiprocessing_fork_pool(tmp_path):
    plain, recorded = both(
        tmp_path,
        """
        import multiprocessing as mp, sys
        def work(x):
            sys.path.append(str(x))
            return x * x
        if __name__ == "__main__":
            sys.path.insert(0, "main")
            pool = mp.get_context("fork").Pool(2)
            print(sum(pool.map(work, range(20))))
            pool.close()        # the workers end by os._exit, not by terminate()'s SIGTERM
            pool.join()
    """,
    )
    same_behaviour(plain, recorded)
    parent = info(tmp_path)
    assert path_history(tmp_path, pid=parent["pid"]) == ["main"]
    # The two workers recorded the 20 appends between them.
    assert len(parent["children"]) == 2
    assert sum(c["changes"] for c in parent["children"]) == 20
    assert {c["ending"]["message"] for c in parent["children"]} == {"os._exit"}


def test_ctrl_c_during_a_storm_of_exceptions_is_not_lost(tmp_path):
    # Nearly every instruction raises RecursionError, so the interrupt is
    # usually noticed inside spyrec's RAISE callback (str() of the exception
    # runs signal handlers): it must reach the program, not be cleared there.
    plain, recorded = both(
        tmp_path,
        """
        import sys, threading, time, _thread
        sys.setrecursionlimit(120)

        def f():
            try:
                f()
            except RecursionError:
                f()

        def interrupt():
            time.sleep(0.5)
            _thread.interrupt_main()

        threading.Thread(target=interrupt).start()
        try:
            f()
        except KeyboardInterrupt:
            print("interrupted")
    """,
    )
    assert plain.stdout == recorded.stdout == "interrupted\n", recorded.stderr
    assert recorded.returncode == plain.returncode == 0
