"""Curated mutation testing: every mutant is a one-line edit that breaks a
documented behaviour; the tests named with it must fail. Prints each mutant
as killed or SURVIVED and the kill rate (docs/testing.md records the last
run and why each survivor is acceptable). Not run in CI: it rebuilds the
C++ module once per C++ mutant.

    .venv-3.12/bin/python scripts/mutants.py [--only NAME]... [--list]

Python mutants are applied to the package installed in the venv of their
Python (what the tests import); C++ mutants to the source, rebuilt into
build/dev-<python>, and the module copied over the installed one.
Everything is put back afterwards, also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Mutant:
    name: str
    path: str  # in the repository
    old: str  # must occur exactly once
    new: str
    tests: tuple  # pytest arguments; or ("ctest", ctest arguments...) for the C++ test build
    python: str = "3.12"


MUTANTS = [
    # ---- the query and replay front end
    Mutant(
        "exceptions --json prints []",
        "pyfrontend/spyrec/cli/query.py",
        "_dump_stream(e.to_json() for e in excs)",
        "_dump_stream([])",
        ("tests/python/test_cli_query.py",),
    ),
    Mutant(
        "replay change N ignores N",
        "pyfrontend/spyrec/cli/replay.py",
        "return history[n - 1 if n > 0 else n], None",
        "return history[0], None",
        ("tests/python/test_cli_replay.py",),
    ),
    Mutant(
        "replay counts no executions",
        "pyfrontend/spyrec/cli/replay.py",
        "return max(same, 1)",
        "return 1",
        ("tests/python/test_cli_replay.py", "tests/python/test_pytest_plugin.py"),
    ),
    Mutant(
        "run --break is a no-op",
        "pyfrontend/spyrec/cli/run.py",
        "on_change = change_breaker(cwd, opts.print_changes)",
        "on_change = None",
        ("tests/python/test_break_pdb.py",),
    ),
    Mutant(
        "pytest's own PYTEST_CURRENT_TEST is a leak",
        "pyfrontend/spyrec/api.py",
        '_RUNNER_KEYS = [("os.environ", "PYTEST_CURRENT_TEST")]',
        "_RUNNER_KEYS = []",
        ("tests/python/test_pytest_plugin.py",),
    ),
    Mutant(
        "secrets are not redacted by default",
        "pyfrontend/spyrec/recording_session.py",
        "    if redact is False:\n        return []",
        "    if True:\n        return []",
        ("tests/python/test_redaction.py",),
    ),
    # ---- child processes and one timeline
    Mutant(
        "processes are not merged by clock",
        "pyfrontend/spyrec/api.py",
        "return heapq.merge(*streams, key=lambda item: item.monotonic_ns)",
        "return __import__('itertools').chain(*streams)",
        ("tests/python/test_children.py",),
    ),
    Mutant(
        "an env= dict gets no settings",
        "pyfrontend/spyrec/children.py",
        "    if type(env) is dict and",
        "    if False and type(env) is dict and",
        ("tests/python/test_children.py",),
    ),
    Mutant(
        "changes carry no pid",
        "pyfrontend/spyrec/api.py",
        'd["pid"], d["process"] = self.pid, self._process\n        return Change',
        'd["process"] = self._process\n        return Change',
        ("tests/python/test_children.py",),
    ),
    Mutant(
        "a forked child is not recorded",
        "pyfrontend/spyrec/recording_session.py",
        "children.start_child(children.settings(self), self._pid, self.argv)",
        "pass",
        ("tests/python/test_children.py",),
    ),
    Mutant(
        "changes carry no clock",
        "recorder/session_records.cpp",
        "change.setMonotonicNs(monotonic_ns());",
        "change.setMonotonicNs(0);",
        ("tests/python/test_children.py",),
    ),
    # ---- the recorder
    Mutant(
        "a raise at a reused address is dropped",
        "recorder/session_records.cpp",
        "bool propagated = exc == t->last_exception && next != nullptr && next == t->last_traceback;",
        "bool propagated = exc == t->last_exception;",
        ("tests/python/test_cli_query.py",),
    ),
    Mutant(
        "every raise keeps its whole stack",
        "recorder/session_records.cpp",
        "if (++raised_here > kFullStackRaises && frames.size() > 1) {",
        "if (false) {",
        ("tests/python/test_cli_query.py",),
    ),
    Mutant(
        "a signal handler's KeyboardInterrupt is cleared",
        "recorder/session_records.cpp",
        "if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_Exception) && !pending_exit_) {",
        "if (false) {",
        ("tests/python/test_reliability_crash.py", "-k", "ctrl_c"),
    ),
    Mutant(
        "3.13 RAISE offsets stay on CACHE",
        "recorder/session_records.cpp",
        "offset = codes_.get(code)->instruction_start(offset);",
        "",
        ("tests/python/test_cli_query.py",),
        python="3.13",
    ),
    Mutant(
        "snapshots stop at depth 3",
        "recorder/snapshot.h",
        "int max_depth = 64;",
        "int max_depth = 3;",
        ("tests/python/test_value_model.py", "tests/python/test_exactness.py"),
    ),
    Mutant(
        "snapshots go one level deeper than documented",
        "recorder/snapshot.h",
        "int max_depth = 64;",
        "int max_depth = 65;",
        ("tests/python/test_value_model.py",),
    ),
    Mutant(
        "callers' lines come from the shadow stack",
        "recorder/session_records.cpp",
        "if (t.thread_id == PyThread_get_thread_ident()) refresh_callers(stack);",
        "",
        ("tests/python/test_exactness.py", "-k", "blames"),
    ),
    Mutant(
        "a dict change's caller is read late",
        "recorder/session_records.cpp",
        "frames[0].offset = codes_.get(frames[0].code)->instruction_start(exact->caller_offset);",
        "",
        ("tests/python/test_exactness.py", "-k", "blames"),
    ),
    Mutant(
        "rebinding an object compared by identity is 'modified'",
        "recorder/watch.cpp",
        "} else if (has_identity(now) && has_identity(tree_.root_object())) {",
        "} else if (shape_of(now, 0, *limits_) != Shape::kLeaf && !PyTuple_Check(now)) {",
        ("tests/python/test_exactness.py", "-k", "blames"),
    ),
    Mutant(
        "a damaged mapping's SIGBUS is not caught",
        "replayer/recording.cpp",
        "        sigaction(SIGBUS, &action, &previous_sigbus);",
        "",
        ("tests/python/test_reliability_input.py",),
    ),
    Mutant(
        "an op's path index is not checked",
        "replayer/apply.cpp",
        "if (step.index >= at->items.size()) {",
        "if (false) {",
        ("ctest", "-R", "fuzz_regression"),
    ),
    Mutant(
        "flush waits for the batch timer",
        "recorder/writer.cpp",
        "    flush_wanted_ = true;  // commit now, not when the batch's time is up",
        "",
        ("tests/python/test_reliability_crash.py",),
    ),
]


def venv(python: str) -> str:
    return os.path.join(REPO, f".venv-{python}")


def installed_package(python: str) -> str:
    return os.path.join(venv(python), "lib", f"python{python}", "site-packages", "spyrec")


def installed_copy(m: Mutant) -> str:
    return os.path.join(installed_package(m.python), os.path.relpath(m.path, "pyfrontend/spyrec"))


def configure(build: str, python: str, *options: str) -> str:
    """Configures the CMake build `build` with Python `python`'s venv, once;
    returns that venv's bin directory (cmake, ninja, ctest)."""
    tools = os.path.join(venv(python), "bin")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run(
            [
                os.path.join(tools, "cmake"),
                *("-S", REPO, "-B", build, "-G", "Ninja"),
                f"-DCMAKE_MAKE_PROGRAM={os.path.join(tools, 'ninja')}",
                f"-DPython_EXECUTABLE={os.path.join(tools, 'python')}",
                *options,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return tools


def build_core(python: str) -> str:
    """Build the module from the (mutated) source; returns the built .so."""
    build = os.path.join(REPO, "build", f"mutants-{python}")
    tools = configure(build, python, "-DCMAKE_BUILD_TYPE=Release")
    subprocess.run(
        [os.path.join(tools, "cmake"), "--build", build, "--target", "_core"], check=True, stdout=subprocess.DEVNULL
    )
    return glob.glob(os.path.join(build, "_core*.so"))[0]


def edit(path: str, old: str, new: str) -> str:
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        raise SystemExit(f"mutants: {path}: the line to mutate occurs {text.count(old)} times: {old!r}")
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return text


def run_ctest(args) -> bool:
    """Rebuilds the C++ test build from the (mutated) source and runs ctest; True when it passes."""
    build = os.path.join(REPO, "build", "cpp-tests")
    cmake = configure(build, "3.12", "-DSPYREC_BUILD_TESTS=ON")  # as scripts/test.sh configures it
    if subprocess.run([os.path.join(cmake, "cmake"), "--build", build], capture_output=True).returncode:
        return False  # a mutant that does not compile is killed
    return (
        subprocess.run([os.path.join(cmake, "ctest"), "--test-dir", build, *args], capture_output=True).returncode == 0
    )


def run_pytest(m: Mutant) -> tuple:
    """(passed, the first failing test or error line) for the mutant's tests."""
    r = subprocess.run(
        [os.path.join(venv(m.python), "bin", "python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.tests],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    why = next((line for line in r.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    return r.returncode == 0, why


def run_mutant(m: Mutant) -> tuple:
    """(killed, why): whether the tests fail with the mutant in place, and the first failure."""
    is_cpp = m.path.endswith((".cpp", ".h"))
    if m.tests[0] == "ctest":
        original = edit(os.path.join(REPO, m.path), m.old, m.new)
        try:
            return not run_ctest(m.tests[1:]), "ctest " + " ".join(m.tests[1:])
        finally:
            with open(os.path.join(REPO, m.path), "w") as f:
                f.write(original)
            run_ctest(["-R", "^$"])  # rebuild from the restored source
    target = os.path.join(REPO, m.path) if is_cpp else installed_copy(m)
    core = glob.glob(os.path.join(installed_package(m.python), "_core*.so"))[0]
    saved_core = core + ".mutants-saved"
    original = edit(target, m.old, m.new)
    try:
        if is_cpp:
            shutil.copy2(core, saved_core)
            shutil.copy2(build_core(m.python), core)
        passed, why = run_pytest(m)
        return not passed, why
    finally:
        with open(target, "w") as f:
            f.write(original)
        if is_cpp:
            shutil.move(saved_core, core)


def baseline(chosen: list) -> list:
    """The pytest runs that fail with no mutant at all (a kill by them would prove nothing)."""
    failing, seen = [], set()
    for m in chosen:
        key = (m.python, m.tests)
        if m.tests[0] == "ctest" or key in seen:
            continue
        seen.add(key)
        passed, why = run_pytest(m)
        if not passed:
            failing.append(f"Python {m.python}: pytest {' '.join(m.tests)}: {why or 'failed'}")
    return failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run the mutants whose name contains NAME"
    )
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(o in m.name for o in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name}  ({m.path}, Python {m.python})")
        return 0
    broken = baseline(chosen)
    if broken:
        print("mutants: these tests fail without any mutant; fix them first:\n  " + "\n  ".join(broken))
        return 1
    killed = 0
    for m in chosen:
        start = time.monotonic()
        dead, why = run_mutant(m)
        killed += dead
        print(
            f"{'killed  ' if dead else 'SURVIVED'}  {m.name}  ({m.path}; {time.monotonic() - start:.0f} s)"
            + (f"\n          by {why}" if dead and why else ""),
            flush=True,
        )
    print(f"kill rate: {killed}/{len(chosen)} = {100 * killed / max(len(chosen), 1):.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
