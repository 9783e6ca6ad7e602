"""One measured child process, for bench/real_suites.py and bench/value_model.py.

run() starts a command in its own process group and measures it with os.wait4
(wall time, CPU = user + system, peak RSS: the child and the descendants it
waited for, nothing of ours). A watchdog kills the whole group when the wall
time passes `timeout` or the child's resident set passes `rss_cap`, so a
pathological run is a result ("timeout", "rss-cap") instead of a hang or an
out-of-memory machine. Also: du of a recording, and which spyrec was measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)


_running: set[int] = set()  # process groups of children not reaped yet


def add_common_args(ap) -> None:
    """The options every bench script over both Pythons takes."""
    ap.add_argument("--python", nargs="+", default=["3.12", "3.13"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900, help="wall seconds per run (default 900)")
    ap.add_argument("--wait", type=float, default=20, help="minutes to wait for spyrec to be importable")


def end_children_on_signal() -> None:
    """A child runs in its own session (so a timeout can kill its whole group), so
    Ctrl-C or a kill of the harness would not reach it: forward them."""

    def handler(signum, frame):
        for pgid in list(_running):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run(
    argv: list[str],
    *,
    cwd: str,
    timeout: float,
    env: dict | None = None,
    stdout_path: str | None = None,
    stdout_consumer=None,
    stderr_path: str | None = None,
    rss_cap: int | None = None,
) -> dict:
    """Run argv to its end (or its kill); stdout goes to stdout_path, or to
    stdout_consumer(binary pipe) on a thread, or nowhere. Returns wall, cpu,
    rss_kb, exit (exit status, -signal if killed) and status: "ok", "exit N",
    "timeout" or "rss-cap"."""
    out_f = open(stdout_path, "wb") if stdout_path else None
    err_f = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    stdout = out_f if out_f else (subprocess.PIPE if stdout_consumer else subprocess.DEVNULL)
    start = time.perf_counter()
    # Own session: the kill reaches pytest's subprocesses too.
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err_f, start_new_session=True
    )
    _running.add(proc.pid)
    reader = None
    if stdout_consumer:
        reader = threading.Thread(target=stdout_consumer, args=(proc.stdout,), daemon=True)
        reader.start()
    done = threading.Event()
    why = []

    def watchdog():
        while not done.wait(0.25):
            reason = None
            if time.perf_counter() - start > timeout:
                reason = "timeout"
            elif rss_cap and _rss_bytes(proc.pid) > rss_cap:
                reason = "rss-cap"
            if reason:
                why.append(reason)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    _running.discard(proc.pid)
    done.set()
    dog.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; keep Popen quiet
    try:  # stragglers of the group (a test's subprocess) are ours to end
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if reader:
        reader.join()
        proc.stdout.close()
    for f in (out_f, err_f):
        if f not in (None, subprocess.DEVNULL):
            f.close()
    result = {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_kb": usage.ru_maxrss,
        "exit": proc.returncode,
        "status": "ok",
    }
    if why:
        result["status"] = why[0]
    elif proc.returncode != 0:
        result["status"] = f"exit {proc.returncode}"
    return result


def save_results(path: str, data: dict) -> None:
    """Writes a results file (bench/results/), making its directory, and says where."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    print(f"\nsaved {path}")


def disk_usage(path: str) -> int:
    """Bytes allocated under path, as du counts them (LMDB files are sparse)."""
    from spyrec.paths import disk_bytes  # what `spyrec list` and `clean` report

    return disk_bytes(path)


def tail(path: str, lines: int = 15) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return text.rstrip().splitlines()[-lines:]


def spyrec_installed(python: str) -> bool:
    return subprocess.run([python, "-c", "import spyrec._core"], capture_output=True).returncode == 0


def wait_for_spyrec(python: str, minutes: float) -> bool:
    """The recorder is reinstalled into the venvs from time to time: poll."""
    deadline = time.time() + minutes * 60
    while not spyrec_installed(python):
        if time.time() > deadline:
            return False
        print(f"  spyrec not importable in {python}; retrying in 60 s", flush=True)
        time.sleep(60)
    return True


def looks_like_reinstall(stderr_lines: list[str]) -> bool:
    """A run that failed because spyrec was being reinstalled under it."""
    text = "\n".join(stderr_lines)
    return (
        "No module named 'spyrec" in text
        or ("ImportError" in text and "spyrec" in text)
        or "spyrec: command not found" in text
    )


def core_stamp(python: str) -> float | None:
    """mtime of the installed spyrec/_core*.so (without importing it): a run during
    which it changed may have loaded half a reinstall (import error, or a crash)."""
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib")
    for dirpath, _, files in os.walk(lib):
        if dirpath.endswith(os.sep + "spyrec"):
            for name in files:
                if name.startswith("_core") and name.endswith(".so"):
                    try:
                        return os.path.getmtime(os.path.join(dirpath, name))
                    except OSError:
                        return None
    return None


def spyrec_build(python: str) -> dict:
    """Which recorder was measured: the tree's commit, whether the recorder's
    sources differ from it, and when the installed _core was built."""

    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True).stdout.strip()

    core = subprocess.run(
        [python, "-c", "import spyrec._core as c, spyrec; print(c.__file__); print(spyrec.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.split()
    info = {
        "commit": git("log", "-1", "--oneline"),
        "uncommitted_source_files": len(
            [
                l
                for l in git("status", "--porcelain", "--", "recorder", "replayer", "schema", "pyfrontend").splitlines()
                if l
            ]
        ),
    }
    if len(core) == 2:
        info["core"] = core[0]
        info["version"] = core[1]
        info["core_built"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(core[0])))
    return info


def spyrec_script(python: str) -> str:
    return os.path.join(os.path.dirname(python), "spyrec")


def venv_python(version: str) -> str:
    return os.path.join(ROOT, f".venv-{version}", "bin", "python")


def mib(n: float | None) -> str:
    if n is None:
        return "—"
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def compile_spyrec(python: str) -> None:
    """Writes spyrec's bytecode caches. A package copied in by hand, or run where
    PYTHONDONTWRITEBYTECODE is set, would otherwise be compiled from source at
    every start (~20 ms on 3.12), which no pip-installed spyrec pays."""
    code = "import compileall, os, spyrec; compileall.compile_dir(os.path.dirname(spyrec.__file__), quiet=1)"
    subprocess.run([python, "-c", code], capture_output=True)


def prepare_python(version: str, tool: str, wait_minutes: float) -> tuple[str, str, dict] | None:
    """The venv's python, its full version and spyrec's build, once spyrec imports
    there; None (said on stdout) when that Python or its spyrec is missing."""
    python = venv_python(version)
    if not os.path.exists(python):
        print(f"{tool}: {python} missing, skipping Python {version}")
        return None
    if not wait_for_spyrec(python, wait_minutes):
        print(f"{tool}: spyrec not importable in {python} after {wait_minutes} min, skipping Python {version}")
        return None
    compile_spyrec(python)
    full_version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    build = spyrec_build(python)
    print(f"== Python {full_version} ({python}); spyrec {build.get('commit')}", flush=True)
    return python, full_version, build
