"""Bad usage of the spyrec command: one line on stderr, exit 2, never a traceback."""

import pytest
from _programs import spyrec, write


def assert_one_line_error(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert r.stderr.startswith("spyrec"), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["run"],
        ["run", "--no-such-option", "x.py"],
        ["run", "-w"],
        ["run", "-w", "f()", "app.py"],
        ["run", "-w", "os.environ[key]", "app.py"],
        ["run", "missing.py"],
        ["run", "bad.py"],
        ["run", "somedir"],
        ["run", "-c", "def ("],
        ["query"],
        ["query", "last-change"],
        ["query", "value", "sys.path"],
        ["query", "value", "sys.path", "--at", "x"],
        ["run", "--follow", "deep", "app.py"],
        ["query", "bogus"],
        ["query", "last-change", "sys.path()"],
        ["query", "-r", "no/such/recording", "last-change", "sys.path"],
        ["query", "-r", "no/such/recording", "info", "--json"],
        ["query", "last-change", "sys.path"],  # no .spyrec/latest here
        ["replay"],
        ["replay", "--break-before"],
        ["replay", "-r", "no/such/recording", "--break-before", "last-change", "sys.path"],
    ],
)
def test_bad_usage_is_one_line_and_status_2(tmp_path, args):
    write(tmp_path, "bad.py", "x = (\n")
    (tmp_path / "somedir").mkdir()
    assert_one_line_error(spyrec(args, tmp_path))


def test_not_a_recording_is_one_line_and_status_2(tmp_path):
    (tmp_path / "junk").mkdir()
    write(tmp_path, "junk/data.mdb", "this is not LMDB")
    assert_one_line_error(spyrec(["query", "-r", "junk", "info"], tmp_path))


def test_version(tmp_path):
    r = spyrec(["--version"], tmp_path)
    assert r.returncode == 0
    assert r.stdout.startswith("spyrec ")


def test_help_is_not_an_error(tmp_path):
    for args in (["--help"], ["run", "--help"], ["query", "--help"], ["replay", "--help"]):
        r = spyrec(args, tmp_path)
        assert r.returncode == 0, args
        assert "usage" in r.stdout.lower()


def test_spyrec_help_lists_every_run_option(tmp_path):
    import re

    top = spyrec(["--help"], tmp_path).stdout
    run_help = spyrec(["run", "--help"], tmp_path).stdout
    options = re.findall(r"^  (-\w, )?(--[\w-]+)", run_help, re.M)  # [(short, long)]
    assert {"--max-size", "--trail", "--follow", "--no-follow", "--print"} <= {long for _, long in options}
    for short, long in options:
        assert long in top or (short and short[:2] + " " in top), long


def test_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, "app.py", "import sys\n\nx = = 3\n")
    r = spyrec(["run", "app.py"], tmp_path)
    assert_one_line_error(r)
    assert "syntax error in app.py line 3" in r.stderr
    assert not (tmp_path / ".spyrec").exists()
