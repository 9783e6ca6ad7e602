"""--trail N: each change carries the lines its thread ran up to the culprit."""

import json
import subprocess
import sys
import textwrap


def test_trail_ends_at_the_culprit_line_and_keeps_at_most_n(tmp_path):
    script = tmp_path / "walk.py"
    script.write_text(
        textwrap.dedent("""\
        import sys
        def helper():
            return 1
        a = helper()
        b = a + 1
        sys.path.append("x")
        print("done")
    """)
    )
    rec = tmp_path / "rec"
    spyrec = [sys.executable, "-m", "spyrec"]
    subprocess.run(
        spyrec + ["run", "--trail", "3", "-o", str(rec), str(script)], check=True, capture_output=True, cwd=tmp_path
    )
    out = subprocess.run(
        spyrec + ["query", "-r", str(rec), "last-change", "sys.path", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    change = json.loads(out)
    trail = [(t["function"], t["line"]) for t in change["trail"]]
    assert trail == [("<module>", 4), ("<module>", 5), ("<module>", 6)] or trail == [
        ("helper", 3),
        ("<module>", 5),
        ("<module>", 6),
    ], trail
    assert change["line"] == 6


def test_without_trail_changes_have_no_trail(tmp_path):
    rec = tmp_path / "rec"
    spyrec = [sys.executable, "-m", "spyrec"]
    subprocess.run(
        spyrec + ["run", "-o", str(rec), "-c", "import sys; sys.path.append('y')"],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    out = subprocess.run(
        spyrec + ["query", "-r", str(rec), "last-change", "sys.path", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out)["trail"] == []


def test_bad_trail_value_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "--trail", "lots", "-c", "pass"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
