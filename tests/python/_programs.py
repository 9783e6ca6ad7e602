"""Shared helpers for the tests that run programs (not a test module)."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs a program through spyrec.program without recording: what `spyrec run`
# does around it, minus the recorder.
DRIVER = textwrap.dedent("""
    import sys
    from spyrec.program import Program, ProgramError, die_by_signal
    try:
        program = Program.from_argv(sys.argv[1:])
        program.check()
        outcome = program.run()
    except ProgramError as e:
        print(f"spyrec: error: {e}", file=sys.stderr)
        sys.exit(2)
    if outcome.signal:
        die_by_signal(outcome.signal)
    sys.exit(outcome.exit_status)
""")


def env():
    # The spyrec these tests imported (installed in CI, or from PYTHONPATH in
    # development) is the one the programs they start must import.
    import spyrec

    e = dict(os.environ)
    where = os.path.dirname(os.path.dirname(os.path.abspath(spyrec.__file__)))
    e["PYTHONPATH"] = os.pathsep.join([where] + [p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p])
    return e


def write(tmp_path, name, source):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def run_driver(args, cwd, **kw):
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=60, **kw
    )


def run_python(args, cwd, **kw):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=60, **kw)


def spyrec(args, cwd, **kw):
    return subprocess.run(
        [sys.executable, "-m", "spyrec", *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=120, **kw
    )


def recording_of(tmp_path, program, *watches):
    """Records `program` (source text) as prog.py in tmp_path, watching
    `watches` besides the defaults; returns the open Recording."""
    import spyrec as api

    (tmp_path / "prog.py").write_text(program)
    watch_args = [arg for expr in watches for arg in ("-w", expr)]
    r = spyrec(["run", "-o", str(tmp_path / "rec"), *watch_args, "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    return api.open(str(tmp_path / "rec"))


def recorded_history(tmp_path, program, expr):
    """Records `program` (source text) watching `expr`; returns its history."""
    return list(recording_of(tmp_path, program, expr).history(expr))
