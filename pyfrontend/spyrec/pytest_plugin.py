"""`pytest --spyrec`: record a test session and name the tests that leaked state.

Loaded by pytest through the `pytest11` entry point; without `--spyrec` it
only adds its options. With it:
- the whole session (collection included) is recorded, with the default
  watches plus `--spyrec-watch EXPR` and the ini option `spyrec_watch`;
- each test's setup, call and teardown is marked in the recording, and so
  is the end of its teardown, so every change knows its test and phase;
- when the session ends, the recording is read back and the terminal summary
  lists every leak (a watched value that differs after a test's teardown
  from what it was when its setup began) with the culprit of its last change,
  and, for each failing test, the leaks that came before it.

pytest's outcome and exit status are never changed: the plugin's own
problems are reported in its summary section, not raised. Child Python
processes the tests start are recorded too (`--spyrec-no-follow`: not),
but test marks live in pytest's own process, so `--spyrec` with
pytest-xdist's `-n`/`--dist` is refused in one line.
"""

from __future__ import annotations

import os
import sys

import pytest

_SECTION = "spyrec"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("spyrec", "spyrec: find the test that leaked state")
    group.addoption(
        "--spyrec",
        action="store_true",
        default=False,
        help="record the session with spyrec and report tests that leak "
        "changes of watched values (sys.path, os.environ, ...)",
    )
    group.addoption(
        "--spyrec-watch",
        action="append",
        default=[],
        metavar="EXPR",
        help="also watch EXPR, e.g. 'myapp.settings.CONFIG' (repeatable)",
    )
    group.addoption(
        "--spyrec-no-follow",
        action="store_true",
        default=False,
        help="do not record the child Python processes tests start",
    )
    parser.addini(
        "spyrec_watch", type="linelist", default=[], help="spyrec: expressions to watch with --spyrec, one a line"
    )


def pytest_configure(config) -> None:
    from . import recording_session

    if not config.getoption("spyrec") or recording_session.replaying:
        return
    if _uses_xdist(config):
        raise pytest.UsageError(
            "--spyrec marks tests in pytest's own process and cannot follow pytest-xdist workers; "
            "run without -n/--dist (e.g. -p no:xdist) to find leaking tests"
        )
    from .watch_expr import WatchExprError

    watches = list(config.getini("spyrec_watch")) + list(config.getoption("spyrec_watch"))
    from .api import RecordingError

    try:
        recorder = SessionRecorder(config, watches)
    except WatchExprError as e:
        raise pytest.UsageError(f"--spyrec-watch: {e}") from None
    except (OSError, RecordingError) as e:
        # No place to record (a read-only directory, a full disk): one line, no run.
        raise pytest.UsageError(f"--spyrec cannot record here: {str(e).splitlines()[0]}") from None
    config.pluginmanager.register(recorder, "spyrec-session")


def _uses_xdist(config) -> bool:
    if hasattr(config, "workerinput"):
        return True
    numprocesses = config.getoption("numprocesses", None)
    return bool(numprocesses) or config.getoption("dist", "no") not in ("no", None)


def recorded_argv(config) -> list:
    """The command line `spyrec replay` runs again: pytest's own `sys.argv`
    when it was started from the command line (so `sys.path[0]` is as it
    was), else `-m pytest` with the arguments pytest was given."""
    args = [str(a) for a in config.invocation_params.args]
    if os.path.basename(sys.argv[0]) == "__main__.py" or sys.argv[1:] != args:
        return ["-m", "pytest", *args]
    return [sys.argv[0], *args]


class SessionRecorder:
    """The recording of one pytest session, and its report."""

    def __init__(self, config, watches: list):
        from .recording_session import Session

        self.config = config
        self.warnings: list = []
        self.session = Session(
            watches,
            argv=recorded_argv(config),
            warn=self.warnings.append,
            follow_children=not config.getoption("spyrec_no_follow"),
        )
        self.failed: list = []  # node ids, in the order they failed
        self.report = None  # (leaks, recording) once the session ended
        self.error = None  # why the report could not be made
        self.session.start()

    # ---- marks -------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.session.mark(item.nodeid, "setup")
        yield

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        self.session.mark(item.nodeid, "call")
        yield

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item, nextitem):
        self.session.mark(item.nodeid, "teardown")
        yield
        self.session.mark("", None)

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed and report.nodeid not in self.failed:
            self.failed.append(report.nodeid)

    # ---- the end -----------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.session.stop("exited", exit_status=int(exitstatus))
        from . import api

        try:
            rec = api.Recording(self.session.path)
            self.report = (rec.leaks(), rec)
        except Exception as e:  # never change pytest's outcome
            self.error = f"{type(e).__name__}: {e}".splitlines()[0]

    def pytest_unconfigure(self, config) -> None:
        # The session never started or never finished (a usage error found
        # after configure): the recording still gets its ending.
        self.session.stop("exited", exit_status=int(pytest.ExitCode.INTERRUPTED))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        write = terminalreporter.write_line
        path = os.path.relpath(self.session.path)
        if self.report is None:
            terminalreporter.write_sep("=", f"{_SECTION}: no report", red=True)
            write(f"spyrec could not read its recording {path}: {self.error}")
            return
        leaks, rec = self.report
        tests = len({leak.test for leak in leaks})
        title = (
            (
                f"{_SECTION}: {len(leaks)} leak{'s' if len(leaks) != 1 else ''} "
                f"in {tests} test{'s' if tests != 1 else ''}"
            )
            if leaks
            else f"{_SECTION}: no leaks"
        )
        terminalreporter.write_sep("=", title, yellow=bool(leaks), green=not leaks)
        for line in summary_lines(leaks, rec, self.failed):
            write(line)
        for line in self.warnings:
            write(line)
        write(f"recording: {path}  (spyrec query leaks; spyrec query history EXPR --test NODEID)")


def summary_lines(leaks: list, rec, failed: list) -> list:
    """Each leak with its culprit; then, for each failing test, the leaks that
    came before it, most recent first (the likely polluters)."""
    from . import report

    cwd = rec.cwd
    out = []
    for leak in leaks:
        out.append(report.format_leak(leak, cwd))
    if not leaks:
        return out
    starts = {m[1]: m[0] for m in rec.marks() if m[2] == "setup"}
    for nodeid in failed:
        begun = starts.get(nodeid)
        if begun is None:
            continue
        before = sorted(
            (leak for leak in leaks if leak.to_seq < begun and leak.test != nodeid),
            key=lambda leak: leak.to_seq,
            reverse=True,
        )
        if before:
            out.append(f"{nodeid} failed after these leaks (most recent first):")
            out.extend(f"    {leak.test}: {leak.expr}" for leak in before)
    return out
