"""What a reader of spyrec's output needs, message by message: hints where a
watch names the script by its module name, the user's own frame when the
culprit is library code, library paths shortened, rebinding shown as
rebinding, one clear line for bad numbers and expressions, a recording
still being written said to be so, and listing and cleaning recordings."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from _programs import env, run_python, spyrec, write


def run(tmp_path, program, *args, name="app.py", status=0):
    write(tmp_path, name, program)
    r = spyrec(["run", "-o", "rec", *args, name], tmp_path)
    assert r.returncode == status, r.stderr
    return r


def one_line_error(r, status=2):
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


# ---- watches -------------------------------------------------------------------------


def test_a_main_watch_that_appears_later_has_no_note_and_a_script_module_watch_gets_a_hint(tmp_path):
    r = run(tmp_path, "X = 1\nX = 2\n", "--no-default-watches", "-w", "app.X", "-w", "__main__.X")
    hint = "module `app` was never imported (app.py ran as __main__: watch __main__.X)"
    assert f"spyrec: warning: app.X was never found: {hint}" in r.stderr
    watches = spyrec(["query", "-r", "rec", "watches"], tmp_path).stdout.splitlines()
    assert watches == [f"app.X       0 changes  never found: {hint}", "__main__.X  2 changes"]
    q = spyrec(["query", "-r", "rec", "last-change", "app.X"], tmp_path)
    assert q.returncode == 1 and q.stderr == f"spyrec: `app.X` was never found: {hint}\n"


def test_print_shows_the_source_line_as_last_change_does(tmp_path):
    r = run(tmp_path, "import sys\nsys.path.append('x')\n", "--print")
    printed = r.stderr.split("spyrec: ", 1)[1].split("  stack:")[0]
    asked = spyrec(["query", "-r", "rec", "last-change", "sys.path"], tmp_path).stdout.split("  stack:")[0]
    assert "    2 | sys.path.append('x')" in printed
    assert printed == asked


def test_not_watched_suggests_a_rerun_quoted_for_a_person(tmp_path):
    run(tmp_path, "pass\n", "--no-default-watches", "-w", "sys.path")
    q = spyrec(["query", "-r", "rec", "last-change", "os.environ['TZ']"], tmp_path)
    assert q.returncode == 1
    assert q.stderr.endswith("""to watch it, re-run: spyrec run --watch "os.environ['TZ']" app.py\n"""), q.stderr


# ---- the API's errors ----------------------------------------------------------------


def test_the_api_raises_not_watched_and_usage_errors_under_one_base(tmp_path):
    run(tmp_path, "import sys\nsys.path.append('x')\n")
    program = f"""
import spyrec
rec = spyrec.open({str(tmp_path / "rec")!r})
for ask in (lambda: rec.last_change("json.x"), lambda: rec.history("json.x"),
            lambda: rec.value_at("json.x", 1)):
    try:
        ask()
    except spyrec.NotWatchedError as e:
        assert isinstance(e, LookupError) and isinstance(e, spyrec.SpyrecError)
        print("not watched:", e)
for seq in (10**30, -1, "x"):
    try:
        rec.value_at("sys.path", seq)
    except spyrec.UsageError as e:
        assert isinstance(e, ValueError) and isinstance(e, spyrec.SpyrecError)
        print("usage:", e)
assert issubclass(spyrec.RecordingError, spyrec.SpyrecError)
assert rec.last_change("sys.path").line == 2
"""
    r = run_python(["-c", program], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 6, lines
    assert all(line.startswith("not watched: json.x was not watched in this recording") for line in lines[:3])
    assert lines[3] == "usage: a seq is a whole number from 0 to 18446744073709551615, not " + str(10**30)
    assert lines[4] == "usage: a seq is a whole number from 0 to 18446744073709551615, not -1"
    assert lines[5] == "usage: a seq is a whole number from 0, not 'x'"


# ---- bad numbers and expressions on the command line ----------------------------------------


def test_bad_seqs_and_huge_expressions_are_one_line(tmp_path):
    run(tmp_path, "import sys\nsys.path.append('x')\n")
    err = one_line_error(spyrec(["query", "-r", "rec", "value", "sys.path", "--at", "1" + "0" * 30], tmp_path))
    assert "a seq is a whole number from 0 to 18446744073709551615" in err
    huge = "a" + ".b" * 5000
    err = one_line_error(spyrec(["query", "-r", "rec", "last-change", huge], tmp_path))
    assert "has more than 200 steps" in err and "Recursion" not in err
    err = one_line_error(spyrec(["run", "-o", "rec2", "-w", huge, "app.py"], tmp_path))
    assert "has more than 200 steps" in err


def test_a_seq_past_the_end_says_so(tmp_path):
    run(tmp_path, "import sys\nsys.path.append('x')\n")
    last = json.loads(spyrec(["query", "-r", "rec", "last-change", "sys.path", "--json"], tmp_path).stdout)["seq"]
    at_end = spyrec(["query", "-r", "rec", "value", "sys.path", "--at", str(last)], tmp_path).stdout
    past = spyrec(["query", "-r", "rec", "value", "sys.path", "--at", str(last + 50)], tmp_path).stdout
    assert "is past the recording" not in at_end
    assert past.endswith(
        f"(seq {last + 50} is past the recording's last change, seq {last}: this is the value at the end)\n"
    )


def test_replay_change_n_counts_from_one(tmp_path):
    run(tmp_path, "import sys\nsys.path.append('x')\n")
    err = one_line_error(spyrec(["replay", "-r", "rec", "--break-before", "change", "sys.path", "0"], tmp_path))
    assert "N counts from 1 (and -1 is the last change)" in err
    r = spyrec(["replay", "-r", "rec", "--break-before", "change", "sys.path", "5"], tmp_path)
    assert r.returncode == 1 and r.stderr == "spyrec: sys.path changed once: there is no change 5\n"


# ---- what a change shows -----------------------------------------------------------------


def test_library_culprits_name_your_frame_and_short_paths(tmp_path):
    run(
        tmp_path,
        "import warnings\n\ndef setup():\n    warnings.simplefilter('ignore')\n\nsetup()\n",
        "-w",
        "warnings.filters",
    )
    history = spyrec(["query", "-r", "rec", "history", "warnings.filters"], tmp_path).stdout.splitlines()
    # The simplefilter() change (warnings may appear first: spyrec run does not import it).
    mine = history.index("       from your code: app.py:4 in setup")
    assert history[mine - 1].split()[3].startswith("<stdlib>/warnings.py:"), history
    full = json.loads(spyrec(["query", "-r", "rec", "history", "warnings.filters", "--json"], tmp_path).stdout)
    assert os.path.isabs(full[0]["file"]) and full[0]["file"].endswith("warnings.py")


def test_rebinding_shows_the_old_and_new_object_not_item_removals(tmp_path):
    run(
        tmp_path,
        "X = [1, 2, 3]\nX = []\nY = [1]\nY = [1]\n",
        "--no-default-watches",
        "-w",
        "__main__.X",
        "-w",
        "__main__.Y",
    )
    history = spyrec(["query", "-r", "rec", "history", "__main__.X"], tmp_path).stdout.splitlines()
    assert history[-3:] == ["       (bound to another object)", "       - [1, 2, 3]", "       + []"]
    assert not any(re.match(r"- \[\d+\] ", line.strip()) for line in history)  # no "- [0] 1"
    last = spyrec(["query", "-r", "rec", "last-change", "__main__.Y"], tmp_path).stdout
    assert "  (bound to another object with equal contents)" in last


def test_no_exception_line_is_printed_as_none(tmp_path):
    run(
        tmp_path,
        """
        def f():
            try:
                raise KeyError("k")
            finally:
                pass
        for _ in range(3):
            try:
                f()
            except KeyError:
                pass
    """,
    )
    out = spyrec(["query", "-r", "rec", "exceptions"], tmp_path).stdout
    assert out.count("re-raised 2 times, last at app.py in f") == 3  # a RERAISE in cleanup code: no line
    raw = json.loads(spyrec(["query", "-r", "rec", "exceptions", "--json"], tmp_path).stdout)
    assert [e["last_raise"]["line"] for e in raw if e["file"].endswith("app.py")] == [None] * 3
    assert ":None" not in out


def test_a_change_inside_an_asyncio_task_names_the_task(tmp_path):
    program = """
        import asyncio
        STATE = {}
        async def fetch(n):
            await asyncio.sleep(0)
            STATE[n] = n
        async def main():
            await asyncio.gather(asyncio.create_task(fetch(1), name="fetch-1"), fetch(2))
            STATE["done"] = True
        asyncio.run(main())
        STATE["after"] = 1
        """
    run(tmp_path, program, "--no-default-watches", "-w", "__main__.STATE")
    got = json.loads(spyrec(["query", "-r", "rec", "history", "--json", "__main__.STATE"], tmp_path).stdout)
    tasks = [ch["task"] for ch in got]
    assert tasks[0] is None and tasks[-1] is None  # outside any Task
    assert tasks[1] == "fetch-1" and re.fullmatch(r"Task-\d+", tasks[2]) and re.fullmatch(r"Task-\d+", tasks[3])
    assert tasks[2] != tasks[3]
    text = spyrec(["query", "-r", "rec", "last-change", "__main__.STATE"], tmp_path).stdout
    assert ", task " not in text
    history = spyrec(["query", "-r", "rec", "history", "__main__.STATE"], tmp_path).stdout
    assert "thread MainThread, task fetch-1" in history


def test_a_labelled_file_is_shown_by_its_label_in_a_shell_and_kept_in_json(tmp_path):
    program = """
        import spyrec
        X = {}
        code = compile("def f():\\n    X['a'] = 1\\n", "/tmp/ipykernel_9/123.py", "exec")
        cells = lambda: {"/tmp/ipykernel_9/123.py": "In [7]"}
        with spyrec.record(["__main__.X"], "rec", default_watches=False, labels=cells):
            exec(code)
            f()
        """
    write(tmp_path, "app.py", program)
    assert run_python(["app.py"], tmp_path).returncode == 0
    text = spyrec(["query", "-r", "rec", "last-change", "__main__.X"], tmp_path).stdout
    assert text.startswith("__main__.X changed at In [7]:2 in f\n"), text
    got = json.loads(spyrec(["query", "-r", "rec", "last-change", "--json", "__main__.X"], tmp_path).stdout)
    assert got["file"] == "/tmp/ipykernel_9/123.py"


# ---- recordings: still being written, how many, how large ----------------------------------------


def test_info_on_a_recording_still_being_written(tmp_path):
    write(tmp_path, "slow.py", "import sys, time\nsys.path.append('x')\nprint('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "slow.py"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.5)  # the first commit
        info = spyrec(["query", "-r", "rec", "info"], tmp_path).stdout
        assert f"ended:     still recording (pid {proc.pid})" in info
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    info = spyrec(["query", "-r", "rec", "info"], tmp_path).stdout
    assert "still recording" not in info and "killed by signal SIGTERM" in info


def test_list_and_clean(tmp_path):
    write(tmp_path, "app.py", "import sys\nsys.path.append('x')\n")
    for _ in range(3):
        assert spyrec(["run", "app.py"], tmp_path).returncode == 0
        time.sleep(0.05)
    listed = spyrec(["list"], tmp_path).stdout.splitlines()
    assert len(listed) == 4 and listed[-1].startswith("3 recordings, ")
    assert all(line.startswith(".spyrec/") and line.endswith("python app.py") for line in listed[:3])
    newest = listed[0].split()[0]
    r = spyrec(["clean", "--keep", "1", "--dry-run"], tmp_path)
    assert r.stdout.count("would remove") == 2 and len(spyrec(["list"], tmp_path).stdout.splitlines()) == 4
    r = spyrec(["clean", "--keep", "1"], tmp_path)
    assert r.returncode == 0 and r.stdout.count("removed") == 2 and "1 recording kept" in r.stdout
    assert spyrec(["list"], tmp_path).stdout.splitlines()[0].split()[0] == newest
    assert os.path.realpath(tmp_path / ".spyrec" / "latest") == str(tmp_path / newest)
    assert spyrec(["clean", "--keep", "0"], tmp_path).returncode == 0
    assert spyrec(["list"], tmp_path).stdout == "no recordings under ./.spyrec\n"
    assert not os.path.lexists(tmp_path / ".spyrec" / "latest")
    one_line_error(spyrec(["clean", "--keep", "x"], tmp_path))


def test_a_large_recording_says_how_large_when_it_stops(tmp_path):
    program = f"""
import sys
from spyrec import recording_session
recording_session.LARGE_RECORDING = 1
warnings = []
s = recording_session.Session(["__main__.X"], {str(tmp_path / "rec")!r}, warn=warnings.append)
s.start()
s.stop("stopped")
print(warnings[-1])
"""
    r = run_python(["-c", program], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("spyrec: the recording takes ") and "spyrec clean --keep N" in r.stdout


@pytest.mark.parametrize(
    "argv, shown",
    [
        (["%%spyrec", "In [3]"], "program:   %%spyrec In [3]"),
        (["app.py", "--fast"], "program:   python app.py --fast"),
    ],
)
def test_a_cell_recording_names_the_cell_as_its_program(tmp_path, argv, shown):
    program = f"""
import spyrec
with spyrec.record(watch=["__main__.X"], output={str(tmp_path / "rec")!r}, argv={argv!r}) as rec:
    pass
print(rec)
"""
    r = run_python(["-c", program], tmp_path)
    assert r.returncode == 0, r.stderr
    assert shown in spyrec(["query", "-r", "rec", "info"], tmp_path).stdout


# ---- filters -------------------------------------------------------------------------------


def test_history_filters_by_file_function_thread_and_seq(tmp_path):
    write(tmp_path, "helper.py", "import sys\n\ndef add(x):\n    sys.path.append(x)\n")
    run(
        tmp_path,
        """
        import sys, threading
        import helper
        def mine():
            sys.path.append("a")
        mine()
        helper.add("b")
        t = threading.Thread(target=helper.add, args=("c",), name="worker")
        t.start(); t.join()
    """,
        "--no-default-watches",
        "-w",
        "sys.path",
    )

    def culprits(*flags):
        r = spyrec(["query", "-r", "rec", "history", "sys.path", "--json", *flags], tmp_path)
        return [(c["function"], c["thread"]) for c in json.loads(r.stdout)] if r.returncode == 0 else r

    everything = json.loads(spyrec(["query", "-r", "rec", "history", "sys.path", "--json"], tmp_path).stdout)
    assert culprits("--file", "helper.py") == [("add", "MainThread"), ("add", "worker")]
    assert culprits("--function", "mine") == [("mine", "MainThread")]
    assert culprits("--thread", "worker") == [("add", "worker")]
    seqs = [c["seq"] for c in everything]
    first_three = [(c["function"], c["thread"]) for c in everything[:3]]
    assert culprits("--to", str(seqs[2])) == first_three
    assert culprits("--from", str(seqs[-1])) == [("add", "worker")]
    r = culprits("--function", "nobody")
    assert r.returncode == 1 and r.stderr == "spyrec: no change of sys.path matches function nobody\n"
    one_line_error(spyrec(["query", "-r", "rec", "history", "sys.path", "--from", "5", "--to", "2"], tmp_path))
    text = spyrec(["query", "-r", "rec", "history", "sys.path", "--file", "helper.py"], tmp_path).stdout
    assert text.startswith("sys.path: oldest first\n") and text.endswith("2 changes\n")


def test_a_reraise_folds_into_its_raise_across_raises_made_between(tmp_path):
    run(
        tmp_path,
        """
        def cleanup():
            try:
                raise ValueError("in cleanup")
            except ValueError:
                pass
        def f():
            try:
                raise KeyError("k")
            finally:
                cleanup()
        try:
            f()
        except KeyError:
            pass
        """,
    )
    got = json.loads(spyrec(["query", "-r", "rec", "exceptions", "--file", "app.py", "--json"], tmp_path).stdout)
    assert [(e["type"], e["line"], e["reraised"]) for e in got] == [("KeyError", 9, False), ("ValueError", 4, False)]
    assert got[0]["reraises"] >= 1 and got[0]["last_raise"]["function"] == "f"


def test_a_reraise_folds_only_into_a_raise_it_continues():
    from spyrec.api import Frame, RaisedException
    from spyrec.exceptions_view import collapse_reraises

    def exc(seq, reraised, *frames):
        stack = [Frame("app.py", line, fn) for fn, line in frames]
        (function, line) = frames[0]
        return RaisedException(seq, "T", 1, "KeyError", "'k'", reraised, "app.py", line, function, 0, "X", stack)

    raised = exc(1, False, ("inner", 3), ("outer", 9), ("<module>", 12))
    continued = exc(2, True, ("outer", 10), ("<module>", 12))  # its caller's finally
    elsewhere = exc(3, True, ("other", 20), ("<module>", 14))  # a raise spyrec did not see
    got = list(collapse_reraises([raised, continued, elsewhere]))
    assert [(e.seq, e.reraises) for e in got] == [(1, 1), (3, 0)]
    assert got[0].last_raise == Frame("app.py", 10, "outer")


def test_exceptions_fold_reraises_filter_and_leave_out_pythons_own(tmp_path):
    run(
        tmp_path,
        """
        import signal
        import email.mime.text
        signal.signal(signal.SIGTERM, lambda *a: None)
        def f():
            try:
                raise KeyError("k")
            finally:
                pass
        try:
            f()
        except KeyError:
            pass
        try:
            [][1]
        except IndexError:
            pass
        {}["boom"]
    """,
        status=1,
    )
    shown = spyrec(["query", "-r", "rec", "exceptions", "--file", "app.py"], tmp_path).stdout
    assert shown.count("seq ") == 3
    assert "KeyError: 'k'\n       at app.py:7 in f  RAISE_VARARGS" in shown
    assert "re-raised once, last at app.py in f" in shown or "re-raised 2 times, last at app.py in f" in shown
    everything = spyrec(["query", "-r", "rec", "exceptions"], tmp_path).stdout
    assert "<frozen importlib" not in everything and "Handlers" not in everything and "_enum_to_int" not in everything
    assert everything.endswith("are left out; --all shows them)\n")
    with_all = spyrec(["query", "-r", "rec", "exceptions", "--all"], tmp_path).stdout
    assert "<frozen importlib._bootstrap" in with_all and with_all.count("seq ") > everything.count("seq ")
    unhandled = spyrec(["query", "-r", "rec", "exceptions", "--unhandled"], tmp_path).stdout
    assert unhandled.count("seq ") == 1 and "KeyError: 'boom'\n       at app.py:18" in unhandled
    typed = json.loads(spyrec(["query", "-r", "rec", "exceptions", "--type", "IndexError", "--json"], tmp_path).stdout)
    assert [(e["type"], e["line"], e["reraises"]) for e in typed if e["file"].endswith("app.py")] == [
        ("IndexError", 15, 0)
    ]
    folded = json.loads(spyrec(["query", "-r", "rec", "exceptions", "--file", "app.py", "--json"], tmp_path).stdout)
    k = next(e for e in folded if e["message"] == "'k'")
    assert k["reraises"] >= 1 and k["last_raise"]["function"] == "f" and not k["reraised"]


def test_the_benchmark_floor_says_it_records_nothing(tmp_path):
    write(tmp_path, "app.py", "import sys\nsys.path.append('x')\nD = {}\nD['k'] = 1\n")
    r = subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "-w", "__main__.D", "app.py"],
        cwd=tmp_path,
        env={**env(), "SPYREC_BENCH_FLOOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "SPYREC_BENCH_FLOOR=1: benchmark floor mode, nothing is recorded" in r.stderr
    history = spyrec(["query", "-r", "rec", "history", "--json", "__main__.D"], tmp_path)
    assert [c["kind"] for c in json.loads(history.stdout)] == ["appeared"]  # at start only: no dict change recorded
