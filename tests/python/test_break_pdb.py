"""`spyrec run --break` and `spyrec replay` as a pdb user expects, driven
through a pseudo-terminal the way a person types (stdlib pty), on the Python
running the tests (the suite runs on 3.12 and 3.13).

What is checked: the first stop is in the user's frame (no "--Call--" inside
pdb), a change made by a caller after a stop in a callee is reported right
after it, `q` and Ctrl-D end the program, `where` shows no spyrec frames, and
the interpreter exits cleanly after a --break session, many times in a row
(under PYTHONFAULTHANDLER, so a crash at exit fails the test).
"""

import os
import subprocess
import sys
import textwrap

import pytest
from _programs import spyrec
from _pty import PROMPT, drive, stops

PROGRAM = textwrap.dedent("""\
    import sys
    CONFIG = {"a": 1}


    def helper():
        CONFIG["b"] = 2
        return 1


    def main():
        x = helper()
        CONFIG["a"] = 3
        y = x + 1
        sys.path.append("/nowhere")
        return y


    try:
        main()
    finally:
        print("finally ran")
    print("done")
""")


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM)
    return path


def test_first_stop_is_in_the_users_frame(program, tmp_path):
    status, out = drive(
        ["run", "--break", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"],
        tmp_path,
        [b"p CONFIG", b"c", b"c", b"c", b"c", b"c"],
    )
    assert status == 0, out
    assert "--Call--" not in out and "pdb.py" not in out, out
    first = stops(out)[0]
    assert first[0].endswith("prog.py") and first[2] == "<module>", out
    assert "{'a': 1}" in out and "NameError" not in out, out
    assert "done" in out


def test_a_change_after_a_stop_in_a_callee_is_reported_right_after_it(program, tmp_path):
    status, out = drive(["run", "--break", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"], tmp_path, [b"c"] * 6)
    assert status == 0, out
    where = [(int(line), func) for _, line, func in stops(out)]
    # CONFIG["b"] = 2 stops at line 7 (return 1); CONFIG["a"] = 3 (line 12)
    # at line 13 (y = x + 1), not after more lines have run; then the
    # sys.path.append on line 14 (a default watch) stops on its own line.
    assert where == [(5, "<module>"), (7, "helper"), (13, "main"), (14, "main")], out


@pytest.mark.parametrize("quit_with", [b"q", b"\x04"], ids=["q", "ctrl-d"])
def test_quit_ends_the_program(program, tmp_path, quit_with):
    status, out = drive(
        ["run", "--break", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"], tmp_path, [b"c", quit_with, b"c", b"c"]
    )
    assert status == 1, out
    assert "quit from pdb" in out
    lines = out.splitlines()
    assert "done" not in lines and "finally ran" in lines, out  # the program unwinds, as from pdb's quit
    assert out.count(PROMPT.decode()) == 2, out
    info = spyrec(["query", "info", "-r", "rec"], tmp_path)
    assert info.returncode == 0 and "exited with status 1" in info.stdout, info.stdout + info.stderr


def test_where_shows_only_the_programs_frames(program, tmp_path):
    status, out = drive(
        ["run", "--break", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"],
        tmp_path,
        [b"c", b"where", b"c", b"c", b"c", b"c"],
    )
    assert status == 0, out
    trace = out.split("(Pdb) where", 1)[1].split(PROMPT.decode(), 1)[0]
    assert "helper()" in trace and "<module>()" in trace, trace
    assert "spyrec" not in trace and "runpy" not in trace, trace


def test_break_session_exits_cleanly_many_times(program, tmp_path):
    # A reference-counting mistake in what --break hands to pdb shows up as a
    # crash in the garbage collector at interpreter exit.
    for i in range(50):
        status, out = drive(
            ["run", "--break", "-w", "__main__.CONFIG", "-o", f"rec{i}", "prog.py"],
            tmp_path,
            [b"p CONFIG", b"n", b"c", b"c", b"c", b"c", b"c"],
            extra_env={"PYTHONFAULTHANDLER": "1"},
        )
        assert status == 0 and "Fatal Python error" not in out, f"run {i}:\n{out}"


def test_replay_quit_ends_the_program(program, tmp_path):
    assert spyrec(["run", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"], tmp_path).returncode == 0
    status, out = drive(["replay", "-r", "rec", "--break-before", "last-change", "__main__.CONFIG"], tmp_path, [b"q"])
    assert status == 1, out
    assert "stopped before STORE_SUBSCR" in out and "quit from pdb" in out
    assert "done" not in out.splitlines()
    assert "not the file that was recorded" not in out  # the file is as recorded


def test_replay_refuses_a_recording_of_another_python(program, tmp_path, supported_pythons):
    here = "{}.{}".format(*sys.version_info[:2])
    other = next((v for v, p in supported_pythons.items() if v != here and p), None)
    assert other, "the other supported Python is needed for this test"
    # The other Python's own spyrec (its venv), not the one this Python imports.
    other_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    made = subprocess.run(
        [supported_pythons[other], "-m", "spyrec", "run", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"],
        cwd=tmp_path,
        env=other_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0 and "No module named spyrec" in made.stderr:
        pytest.fail(f"spyrec is not installed for Python {other}")
    assert made.returncode == 0, made.stderr
    r = spyrec(["replay", "-r", "rec", "--break-before", "last-change", "__main__.CONFIG"], tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"Python {other}" in lines[0] and f"Python {here}" in lines[0], r.stderr
    assert "done" not in r.stdout


def test_replay_warns_when_the_source_changed(program, tmp_path):
    assert spyrec(["run", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"], tmp_path).returncode == 0
    program.write_text(PROGRAM.replace('print("done")', 'print("done, edited")'))
    r = spyrec(["replay", "-r", "rec", "--break-before", "last-change", "__main__.CONFIG"], tmp_path, input="c\n")
    assert r.returncode == 0, r.stderr
    assert "is not the file that was recorded" in r.stderr
