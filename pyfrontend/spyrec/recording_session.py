"""A recording in progress: one `_core.Recorder` and the process hooks around it.

Used by `spyrec run` (the whole program), `spyrec.record()` (a block) and the
`%%spyrec` cell magic.  Beyond starting and stopping the recorder, a session
makes sure the recording is complete however the process ends:
- os._exit(): flushed and ended before the process goes (os._exit is wrapped);
- exec*(): ended before the process image is replaced;
- SIGTERM / SIGHUP with no handler of the program's: ended, then the process
  dies by the same signal, so its parent sees the status it would have seen;
- fork(): the child stops writing into the parent's recording (an LMDB
  environment must not be used across fork) and, unless children are not
  followed, records into `children/<pid>` (children.py).
"""

from __future__ import annotations

# _signal, not signal: signal.py builds its enums at import (enum, ~4 ms of
# every recorded program's start-up) and converts handlers through them.
import _signal
import atexit
import os
import sys

from . import children, watch_expr
from .paths import disk_bytes, human_size, new_recording_dir, point_latest

# The handlers spyrec installs, by name (not signal.Signals: importing the
# signal module inside a handler could meet a half-imported one).
_SIGNAL_NAMES = {_signal.SIGTERM: "SIGTERM", _signal.SIGHUP: "SIGHUP"}

LARGE_RECORDING = 100 * 1024 * 1024  # bytes on disk past which stop() says how large it is

__all__ = ["DEFAULT_WATCHES", "DEFAULT_REDACT", "Session", "watch_list", "redact_patterns"]

DEFAULT_WATCHES = ("sys.path", "sys.meta_path", "sys.path_hooks", "os.environ")
# Names (dict keys, os.environ names, attribute names, at any depth; matched
# case-insensitively) whose values are stored as fingerprints only
# (docs/reliability.md, "Security").
DEFAULT_REDACT = (
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*API_KEY*",
    "*APIKEY*",
    "*PRIVATE_KEY*",
    "*ACCESS_KEY*",
    "*SIGNING_KEY*",
    "*SESSION_KEY*",
    "*CREDENTIAL*",
    "*AUTH*TOKEN*",
    "*_AUTH",
    "*_AUTH_*",
    "AUTH_*",
    "*AUTHORIZATION*",
    "*COOKIE*",
    "*DATABASE_URL*",
    "*_DSN",
    "AWS_*_KEY*",
)

# True while `spyrec replay` re-runs a recorded program in this process: what
# it runs is already recorded, so `pytest --spyrec` (even from addopts) stays off.
replaying = False

_real_os_exit = os._exit
_real_execv = os.execv
_real_execve = os.execve


def watch_list(watches=(), default_watches: bool = True) -> list:
    """The WatchExprs to record: the defaults first, then the user's, no duplicates."""
    texts = list(DEFAULT_WATCHES if default_watches else ()) + list(watches or ())
    seen, result = set(), []
    for text in texts:
        w = watch_expr.parse(text)
        if w.expr not in seen:
            seen.add(w.expr)
            result.append(w)
    return result


def redact_patterns(redact=True) -> list:
    """The patterns in force: True, the defaults; False, none; a list (or a
    str), the defaults and those."""
    if redact is False:
        return []
    extra = [] if redact is True or redact is None else [redact] if isinstance(redact, str) else list(redact)
    return list(dict.fromkeys([*DEFAULT_REDACT, *extra]))


def limit_warnings(notes: list, argv=()) -> list:
    """One line per watch that never resolved or holds what spyrec cannot see inside."""
    lines = []
    for n in notes:
        if not n["ever_resolved"]:
            from . import report  # at the end only: not an import every recorded program pays for

            reason = report.never_found_reason(n["expr"], n["unresolved_reason"], argv)
            lines.append(f"spyrec: warning: {n['expr']} was never found: {reason}")
        elif n["opaque"]:
            seen = "; ".join(f"{t}: {tracked}" for t, tracked in n["opaque"])
            lines.append(f"spyrec: warning: {n['expr']} holds what spyrec cannot see inside ({seen})")
    return lines


class Session:
    """One recording.  start() ... stop(); stop() is idempotent."""

    def __init__(
        self,
        watches=(),
        output: str | None = None,
        *,
        argv=None,
        default_watches: bool = True,
        on_change=None,
        force: bool = False,
        max_size: int = 0,
        trail: int = 0,
        follow: int = 0,
        warn=None,
        redact=True,
        follow_children: bool = True,
        parent_pid: int = 0,
        children_root: str | None = None,
    ):
        self.trail = int(trail or 0)
        self.follow = int(follow or 0)
        self.redact = redact_patterns(redact)
        # Where to say, when recording ends, what spyrec could not see (None: nowhere).
        self.warn = warn
        self.notes: list = []
        self.watches = watch_list(watches, default_watches)
        self.argv = list(sys.argv if argv is None else argv)
        self.on_change = on_change
        self._is_default_dir = output is None
        self.path = os.path.abspath(output) if output else new_recording_dir()
        self._force = force
        self.max_size = int(max_size or 0)
        # Child processes record under the first recording's children/ (children.py).
        self.follow_children = follow_children
        self.children_root = children_root or self.path
        self.parent_pid = int(parent_pid)
        self._recorder = None
        self._pid = None
        self._saved_signals: dict = {}
        # What the atexit hook writes as the Ending, and a signal to die by after it.
        self.outcome = None
        # A SIGTERM/SIGHUP that arrived while stop() ran: died by after it.
        self._stopping = False
        self._deferred_signal = 0

    # ---- start / stop ------------------------------------------------------------
    def start(self, *, process_hooks: bool = True) -> Session:
        try:
            from . import _core
        except ImportError as e:
            from .errors import SpyrecError

            raise SpyrecError(f"spyrec's compiled core is missing ({e})") from None
        if not self._is_default_dir:
            _refuse_to_mix(self.path, self._force)
        if not self.parent_pid:
            children.yield_to_explicit_session()
        self._recorder = _core.Recorder(
            self.path,
            [w.for_core() for w in self.watches],
            argv=self.argv,
            max_size=self.max_size,
            trail=self.trail,
            follow=self.follow,
            redact=self.redact,
            parent_pid=self.parent_pid,
            on_change=self._on_change if self.on_change else None,
        )
        self._pid = os.getpid()
        if self._is_default_dir:
            point_latest(self.path)
        if process_hooks:
            self._install_process_hooks()
        # Read before recording starts: a lookup of a missing key raises
        # inside os.environ, and spyrec's own exceptions are never recorded.
        floor = os.environ.get("SPYREC_BENCH_FLOOR") == "1"
        self._recorder.start()
        if floor:
            # The recorder's benchmark floor (bench/run.py): never silent.
            sys.stderr.write("spyrec: SPYREC_BENCH_FLOOR=1: benchmark floor mode, nothing is recorded\n")
        if process_hooks and self.follow_children:
            children.offer(self)
        # Commit the header (format, meta, watches) before the program runs, so
        # even a crash in its first instruction leaves a readable recording.
        self._recorder.flush()
        return self

    @property
    def recording(self) -> bool:
        return self._recorder is not None and self._pid == os.getpid()

    @property
    def changes(self) -> int:
        return self._recorder.changes if self._recorder is not None else 0

    def flush(self) -> None:
        if self.recording:
            self._recorder.flush()

    def label_files(self, labels: dict) -> None:
        """What readers call these files: {filename: "In [3]"} for notebook cells."""
        if self.recording:
            for filename, label in labels.items():
                self._recorder.label_file(filename, label)

    def mark(self, test: str, phase: str | None) -> None:
        """A point in the recording: `test`'s `phase` ("setup", "call",
        "teardown") begins, or (phase None) no test is running any more."""
        if self.recording:
            self._recorder.mark(test, phase)

    def stop(self, how: str = "stopped", exit_status: int = 0, signal: int = 0, message: str = "") -> None:
        if not self.recording:
            return
        recorder, self._recorder = self._recorder, None
        if self.follow_children and not self.parent_pid:
            children.withdraw()
        self._stopping = True
        try:
            recorder.stop(how, exit_status=exit_status, signal=signal, message=message)
        finally:
            self._stopping = False
        # Only now: a SIGTERM that arrives while the recorder commits finds our
        # handler, not the default action, which would lose the last batch.
        self._remove_process_hooks()
        if self._deferred_signal:
            from .program import die_by_signal

            die_by_signal(self._deferred_signal)
        self.notes = recorder.notes()
        if self.warn is not None:
            for line in limit_warnings(self.notes, self.argv) + self._size_note():
                try:
                    self.warn(line)
                except Exception:
                    pass

    def _size_note(self) -> list:
        """A line when the recording is large: recordings pile up."""
        size = disk_bytes(self.path)
        if size < LARGE_RECORDING:
            return []
        return [
            f"spyrec: the recording takes {human_size(size)} ({self.path}); "
            "spyrec list shows every recording, spyrec clean --keep N removes all but the newest N"
        ]

    def stop_at_exit(self) -> None:
        """Stop when the interpreter exits, after the program's own atexit handlers.

        atexit runs handlers last-registered-first, so registering before the
        program runs puts this one after everything the program registers.
        self.outcome, set when the program returns, becomes the Ending record.
        """
        atexit.register(self._at_exit)

    def _at_exit(self) -> None:
        outcome = self.outcome
        if outcome is None and self.parent_pid:
            # A child Python's exit status is decided after atexit handlers run.
            self.stop("exited", -1, message="its exit status is not seen from inside")
            return
        if outcome is None:
            self.stop("exited", 0)
            return
        self.stop(outcome.how, exit_status=outcome.exit_status, signal=outcome.signal, message=outcome.message)
        if outcome.signal:
            from .program import die_by_signal

            die_by_signal(outcome.signal)

    # ---- change callback ---------------------------------------------------------
    def _on_change(self, change: dict) -> None:
        try:
            self.on_change(change)
        except Exception as e:  # never let a display problem break the program
            try:
                sys.stderr.write(f"spyrec: could not show a change: {type(e).__name__}: {e}\n")
            except Exception:
                pass

    # ---- process hooks -----------------------------------------------------------
    def _install_process_hooks(self) -> None:
        session = self

        def _exit(status):
            session.stop("exited", exit_status=int(status), message="os._exit")
            _real_os_exit(status)

        def execv(path, args):
            session.stop("stopped", message=f"exec {os.fspath(path)}")
            return _real_execv(path, args)

        def execve(path, args, env):
            session.stop("stopped", message=f"exec {os.fspath(path) if not isinstance(path, int) else path}")
            return _real_execve(path, args, env)

        self._wrappers = {"_exit": _exit, "execv": execv, "execve": execve}
        for name, fn in self._wrappers.items():
            fn.__wrapped__ = getattr(os, name)
            fn.__name__ = name
            setattr(os, name, fn)
        _register_fork_hook_once()
        _SESSIONS.add(self)
        for signum in (_signal.SIGTERM, _signal.SIGHUP):
            try:
                if _signal.getsignal(signum) == _signal.SIG_DFL:
                    self._saved_signals[signum] = _signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread: signals stay as they are
                pass

    def _remove_process_hooks(self) -> None:
        for name, fn in getattr(self, "_wrappers", {}).items():
            if getattr(os, name) is fn:
                setattr(os, name, fn.__wrapped__)
        self._wrappers = {}
        for signum, previous in self._saved_signals.items():
            try:
                if _signal.getsignal(signum) == self._on_signal:
                    _signal.signal(signum, previous)
            except ValueError:
                pass
        self._saved_signals = {}
        _SESSIONS.discard(self)

    def _on_signal(self, signum, frame) -> None:
        if self._stopping:
            # The recorder's C++ stop runs Python's signal checks (repr, str):
            # dying here would lose what it has not committed yet.
            self._deferred_signal = signum
            return
        name = _SIGNAL_NAMES.get(signum, f"signal {signum}")
        self.stop("signal", exit_status=128 + signum, signal=signum, message=name)
        from .program import die_by_signal

        die_by_signal(signum)

    def _forget_in_child(self) -> None:
        """In a forked child: stop recording the parent's recording without
        writing to it (its LMDB environment is the parent's), and record the
        child into a recording of its own when children are followed."""
        recorder, self._recorder = self._recorder, None
        self._remove_process_hooks()
        if recorder is None:
            return
        recorder.abandon_after_fork()
        if self.follow_children:
            children.start_child(children.settings(self), self._pid, self.argv)


_SESSIONS: set = set()
_fork_hook_registered = False


def _register_fork_hook_once() -> None:
    # os.register_at_fork cannot be undone, so one hook serves every session.
    global _fork_hook_registered
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True


def _after_fork_in_child() -> None:
    for session in list(_SESSIONS):
        session._forget_in_child()


def _refuse_to_mix(path: str, force: bool) -> None:
    """An existing recording in -o DIR is replaced only with --force, and never
    while another spyrec is still recording into it (its lock file says so)."""
    data = os.path.join(path, "data.mdb")
    if _being_recorded(path):
        raise FileExistsError(f"another spyrec is already recording into {path}")
    if os.path.exists(data):
        if not force:
            raise FileExistsError(f"{path} already holds a recording; remove it, use --force, or pick another -o")
        for name in ("data.mdb", "lock.mdb"):
            try:
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
    elif os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise FileExistsError(f"{path} exists and is not a recording; pick another -o")


def _being_recorded(path: str) -> bool:
    """True when a live recorder holds DIR/spyrec.lock (the Writer's flock)."""
    try:
        fd = os.open(os.path.join(path, "spyrec.lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    import fcntl  # only for a directory that holds a lock file: a new -o DIR needs none

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing also releases a lock we just took
    return False
