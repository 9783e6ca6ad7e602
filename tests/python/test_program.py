"""spyrec.program runs a program exactly as python would: argv, __main__,
sys.path[0], stdio and exit status, compared against python itself."""

import signal
import sys

import pytest
from _programs import run_driver, run_python, write

SHOW = """
    import sys, os
    print(repr(sys.argv))
    print(repr(sys.path[0]))
    print(__name__, repr(globals().get('__file__')))
    import __main__
    print(__main__.__dict__ is globals())
"""


def both(args, cwd, **kw):
    return run_driver(args, cwd, **kw), run_python(args, cwd, **kw)


def test_script_sees_what_python_gives_it(tmp_path):
    write(tmp_path, "pkg/show.py", SHOW)
    ours, python = both(["pkg/show.py", "a", "--b"], tmp_path)
    assert ours.returncode == python.returncode == 0
    assert ours.stdout == python.stdout
    assert "['pkg/show.py', 'a', '--b']" in ours.stdout


def test_module_sees_what_python_gives_it(tmp_path):
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/show.py", SHOW)
    ours, python = both(["-m", "pkg.show", "x"], tmp_path)
    assert ours.returncode == python.returncode == 0, ours.stderr
    assert ours.stdout == python.stdout


def test_code_sees_what_python_gives_it(tmp_path):
    code = "import sys; print(sys.argv, repr(sys.path[0]), __name__)"
    ours, python = both(["-c", code, "q"], tmp_path)
    assert ours.stdout == python.stdout == "['-c', 'q'] '' __main__\n"


def test_classes_of_main_pickle(tmp_path):
    write(
        tmp_path,
        "p.py",
        """
        import pickle
        class Point:
            def __init__(self, x): self.x = x
        if __name__ == "__main__":
            print(pickle.loads(pickle.dumps(Point(3))).x)
    """,
    )
    ours = run_driver(["p.py"], tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "3\n"


def test_stdin_passes_through(tmp_path):
    write(tmp_path, "cat.py", "import sys; sys.stdout.write(sys.stdin.read().upper())")
    ours = run_driver(["cat.py"], tmp_path, input="hello\n")
    assert ours.stdout == "HELLO\n"


@pytest.mark.parametrize(
    "body, status",
    [
        ("pass", 0),
        ("import sys; sys.exit(3)", 3),
        ("import sys; sys.exit()", 0),
        ("raise ValueError('boom')", 1),
    ],
)
def test_exit_status_matches_python(tmp_path, body, status):
    write(tmp_path, "e.py", body)
    ours, python = both(["e.py"], tmp_path)
    assert ours.returncode == python.returncode == status


def test_sys_exit_message_goes_to_stderr_with_status_1(tmp_path):
    write(tmp_path, "e.py", "import sys; sys.exit('bye now')")
    ours, python = both(["e.py"], tmp_path)
    assert ours.returncode == python.returncode == 1
    assert ours.stderr == python.stderr == "bye now\n"


def test_unhandled_exception_traceback_has_no_spyrec_frames(tmp_path):
    write(
        tmp_path,
        "e.py",
        """
        def f():
            raise ValueError('boom')
        f()
    """,
    )
    ours, python = both(["e.py"], tmp_path)
    assert ours.returncode == 1
    assert ours.stderr == python.stderr
    assert "spyrec" not in ours.stderr


def test_keyboard_interrupt_ends_like_python(tmp_path):
    # CPython prints the traceback, then dies by SIGINT: a shell shows 130.
    write(tmp_path, "k.py", "raise KeyboardInterrupt")
    ours, python = both(["k.py"], tmp_path)
    assert ours.returncode == python.returncode == -signal.SIGINT
    assert ours.stderr == python.stderr
    # And through a shell, 130.
    import subprocess

    from _programs import DRIVER, env

    r = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$0" k.py; echo $?', DRIVER],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip().endswith("130")


@pytest.mark.parametrize(
    "args, words",
    [
        (["missing.py"], "missing.py"),
        (["."], "__main__"),
        (["bad.py"], "syntax error in bad.py line 2"),
        (["-m", "no_such_module_here"], "no_such_module_here"),
        (["-c", "def ("], "syntax error"),
    ],
)
def test_bad_program_is_one_line_and_status_2(tmp_path, args, words):
    write(tmp_path, "bad.py", "x = 1\ny = (\n")
    ours = run_driver(args, tmp_path)
    assert ours.returncode == 2
    assert ours.stderr.startswith("spyrec: error: ")
    assert ours.stderr.count("\n") == 1
    assert words in ours.stderr
    assert "Traceback" not in ours.stderr


def test_directory_with_main_runs_like_python(tmp_path):
    write(tmp_path, "app/__main__.py", "import sys; print(sys.argv[0], __name__)")
    ours, python = both(["app"], tmp_path)
    assert ours.returncode == python.returncode == 0
    assert ours.stdout == python.stdout


def test_zipapp_with_a_shebang_runs_like_python(tmp_path):
    import zipapp

    write(tmp_path, "src/__main__.py", "import sys; print(sys.argv[0], __name__)")
    zipapp.create_archive(tmp_path / "src", tmp_path / "app.pyz", interpreter="/usr/bin/env python3")
    ours, python = both(["app.pyz"], tmp_path)
    assert ours.returncode == python.returncode == 0, ours.stderr
    assert ours.stdout == python.stdout
    # A zip without __main__ is refused as python refuses it.
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("x.txt", "not a program")
    ours, python = both(["empty.zip"], tmp_path)
    assert ours.returncode == 2 and python.returncode != 0
    assert "__main__" in ours.stderr
