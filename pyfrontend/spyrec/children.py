"""Following child processes: each child Python process records into a
recording of its own, `ROOT/children/<pid>`, with the same watches.

- fork (os.fork, multiprocessing's fork and forkserver): the recording
  session's fork hook (recording_session) starts the child's session.
- a new Python (subprocess, multiprocessing's spawn, os.exec*): the parent
  puts the recording's settings in the C environment only (os.putenv), so
  the program's os.environ never shows them but every process it starts
  inherits them; `spyrec-follow.pth`, installed beside the package, calls
  `start_from_environment()` when such a Python starts. A child started
  with an environment of its own (`env={...}`) gets the variable added to
  that dict by an audit hook, so it is followed too. Not followed: a child
  started with `-S` or `-I`, by another interpreter, or through
  `os.execve(..., os.environ)`.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ENV_VAR", "offer", "withdraw", "start_from_environment"]

ENV_VAR = "SPYREC_FOLLOW"


def settings(session) -> dict:
    """What a child needs to record as `session` does."""
    return {
        "root": session.children_root,
        "watches": [w.expr for w in session.watches],
        "follow": session.follow,
        "trail": session.trail,
        "redact": session.redact,
        "max_size": session.max_size,
    }


# This process's recording as a followed child, if it is one.
current = None


def yield_to_explicit_session() -> None:
    """A program run as a followed child starts recording of its own
    (`spyrec run`, `spyrec.record()`, `pytest --spyrec`): what it asked for
    wins; the child's recording ends here and says why."""
    global current
    if current is not None and current.recording:
        current.stop("stopped", message="the program started a spyrec recording of its own")
    current = None


# The settings offered to children while a session records (None: none).
_offered: str | None = None
_hook_added = False


def offer(session) -> None:
    """Let the processes `session`'s program starts from now on record too."""
    global _offered, _hook_added
    # A Python literal, not JSON: json (and re) would be imports every
    # recorded program pays for; the child reads it with settings_from_text.
    _offered = repr(settings(session))
    os.putenv(ENV_VAR, _offered)
    if not _hook_added:  # audit hooks cannot be removed: one serves every session
        sys.addaudithook(_add_to_explicit_env)
        _hook_added = True


def withdraw() -> None:
    global _offered
    _offered = None
    os.unsetenv(ENV_VAR)


# Audit events that start a process with an environment given by the program,
# and where that environment is among their arguments.
_ENV_ARG = {"subprocess.Popen": 3, "os.posix_spawn": 2, "os.exec": 2}


def _add_to_explicit_env(event: str, args: tuple) -> None:
    if _offered is None or event not in _ENV_ARG:
        return
    env = args[_ENV_ARG[event]]
    if type(env) is dict and ENV_VAR not in env and ENV_VAR.encode() not in env:
        if any(isinstance(k, bytes) for k in env):
            env[ENV_VAR.encode()] = _offered.encode()
        else:
            env[ENV_VAR] = _offered


def session_for_child(config: dict, parent_pid: int, argv: list):
    """A Session (not started) recording this process as a child of `parent_pid`."""
    from .paths import new_child_dir
    from .recording_session import Session

    return Session(
        config["watches"],
        new_child_dir(config["root"], os.getpid()),
        default_watches=False,
        argv=argv,
        follow=config.get("follow", 0),
        trail=config.get("trail", 0),
        redact=config.get("redact") or False,
        max_size=config.get("max_size", 0),
        parent_pid=parent_pid,
        children_root=config["root"],
    )


def start_from_environment() -> None:
    """Called by spyrec-follow.pth at interpreter start: if a recording
    process started this one, record it too, until the interpreter exits."""
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        return
    # Out of the program's sight, still inherited by what it starts.
    del os.environ[ENV_VAR]
    os.putenv(ENV_VAR, raw)
    if not _in_main_interpreter():  # a subinterpreter of a process already followed
        return
    config = settings_from_text(raw)
    # The command line as typed (`-c CODE`, `-m mod`): sys.argv drops the code.
    start_child(config, os.getppid(), list(sys.orig_argv[1:]) or sys.argv)


def settings_from_text(raw: str) -> dict | None:
    """The settings offer() wrote (a Python literal of dicts, lists, str, int,
    bool and None), or None. Read with _ast, never evaluated; not with ast
    or json, whose imports (re, enum) every followed child would pay for."""
    import _ast

    def value(node):
        if isinstance(node, _ast.Constant) and (node.value is None or isinstance(node.value, (str, int, bool))):
            return node.value
        if isinstance(node, _ast.List):
            return [value(item) for item in node.elts]
        if isinstance(node, _ast.Dict) and None not in node.keys:
            return {value(k): value(v) for k, v in zip(node.keys, node.values)}
        raise ValueError("not a settings literal")

    try:
        config = value(compile(raw, "<SPYREC_FOLLOW>", "eval", _ast.PyCF_ONLY_AST).body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return config if isinstance(config, dict) else None


def _in_main_interpreter() -> bool:
    # site (and so this .pth) runs again in every subinterpreter.
    for name in ("_interpreters", "_xxsubinterpreters"):  # 3.13, 3.12
        try:
            interpreters = __import__(name)
        except ImportError:
            continue
        return interpreters.get_current() == interpreters.get_main()
    return True


def start_child(config, parent_pid: int, argv: list) -> None:
    """Record this process, a child of `parent_pid` running `argv`, as
    `config` says (settings()), until it exits."""
    global current
    try:
        if not isinstance(config, dict):
            raise ValueError(f"{ENV_VAR} does not hold spyrec's settings")
        session = session_for_child(config, parent_pid, argv)
        session.start()
        session.stop_at_exit()
        current = session
    except Exception as e:  # a child that cannot be recorded still runs
        try:
            sys.stderr.write(f"spyrec: not recording child process {os.getpid()}: {e}\n")
        except Exception:
            pass
