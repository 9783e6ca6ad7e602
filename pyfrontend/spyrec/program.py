"""Run a program the way `python` would: a script, `-m module` or `-c code`.

What "the way python would" means here, and how each part is done:
- sys.argv: `[script, *args]` / `[module's file, *args]` / `['-c', *args]`.
- __main__: a fresh module installed as sys.modules['__main__'] (so pickling
  classes defined in the program works); `-m` runs through runpy like `python -m`.
- sys.path[0]: the script's real directory / the current directory / '' for -c,
  replacing the entry the `spyrec` launcher got (left alone under `python -P`).
- exit status: sys.exit(N) -> N, sys.exit("msg") -> msg on stderr and 1, an
  unhandled exception -> sys.excepthook's traceback (spyrec's frames cut off)
  and 1; Ctrl-C -> the traceback, then death by SIGINT (the shell shows 130),
  exactly as CPython's Py_RunMain does.

Bad input (a missing script, a directory without __main__.py, a syntax error,
no such module) raises ProgramError: one line for `spyrec: error: ...`.
"""

from __future__ import annotations

import _signal  # not signal: its enums cost every recorded program's start-up
import builtins
import os
import sys

from .errors import SpyrecError

__all__ = ["Program", "ProgramError", "Outcome"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The real os._exit: a recording session wraps os._exit to flush first.
_real_os_exit = os._exit


class ProgramError(SpyrecError):
    """The program cannot be started; str() is one line."""


class Outcome:
    """How the program ended: what the recording's Ending record says. how:
    "exited" | "exception" | "signal"; signal: the signal to die by after
    recording stops. (A plain class: a named tuple imports collections, a
    dataclass inspect, and every recorded program's start-up pays for what
    spyrec imports.)"""

    __slots__ = ("how", "exit_status", "signal", "message")

    def __init__(self, how: str = "exited", exit_status: int = 0, signal: int = 0, message: str = "") -> None:
        self.how = how
        self.exit_status = exit_status
        self.signal = signal
        self.message = message

    def __repr__(self) -> str:
        return f"Outcome({self.how!r}, {self.exit_status!r}, {self.signal!r}, {self.message!r})"


class Program:
    def __init__(self, kind: str, target: str, args: list | None = None) -> None:
        self.kind = kind  # "script" | "module" | "code"
        self.target = target  # path / module name / source text
        self.args = list(args or [])
        self._code = None
        self._main = None

    def __repr__(self) -> str:
        return f"Program({self.kind!r}, {self.target!r}, {self.args!r})"

    @classmethod
    def from_argv(cls, argv: list) -> Program:
        """From a python-style command line: `x.py ...`, `-m mod ...`, `-c code ...`."""
        if not argv:
            raise ProgramError("nothing to run: give a script, -m module or -c code")
        first = argv[0]
        for flag, kind in (("-m", "module"), ("-c", "code")):
            if first == flag:
                if len(argv) < 2:
                    raise ProgramError(f"argument expected for {flag}")
                return cls(kind, argv[1], list(argv[2:]))
            if first.startswith(flag) and len(first) > 2:  # -mpkg, like python
                return cls(kind, first[2:], list(argv[1:]))
        return cls("script", first, list(argv[1:]))

    @property
    def argv(self) -> list:
        """The python-style command line that runs this program again."""
        if self.kind == "script":
            return [self.target, *self.args]
        return ["-m" if self.kind == "module" else "-c", self.target, *self.args]

    # ---- before recording starts ------------------------------------------------
    def check(self) -> None:
        """Fail early, with one line, on input python would refuse.

        Compiles a script or -c code now, so a syntax error never reaches the
        recording.  A module is only found when it runs: finding it imports its
        parent packages, and that is part of what gets recorded.
        """
        if self.kind == "code":
            self._code = _compile(self.target, "<string>", "-c code")
        elif self.kind == "script":
            path = self.target
            if not os.path.exists(path):
                raise ProgramError(f"can't open file {path!r}: no such file")
            if os.path.isdir(path) or _is_zip(path):
                if not _has_main(path):
                    raise ProgramError(f"can't find '__main__' module in {path!r}")
                return
            try:
                with open(path, "rb") as f:
                    source = f.read()
            except OSError as e:
                raise ProgramError(f"can't open file {path!r}: {e.strerror}") from None
            self._code = _compile(source, os.path.abspath(path), path)
        elif self.kind == "module":
            if not self.target:
                raise ProgramError("argument expected for -m")

    # ---- running ------------------------------------------------------------------
    def run(self) -> Outcome:
        """Run the program in this process and say how it ended.

        Prints what python prints (tracebacks, sys.exit messages).  Raises
        ProgramError if the module of `-m` cannot be found.
        """
        if self._code is None and self.kind != "module":
            self.check()
        try:
            self._execute()
        except SystemExit as e:
            return _system_exit_outcome(e)
        except KeyboardInterrupt as e:
            _print_unhandled(e)
            return Outcome("signal", 128 + _signal.SIGINT, _signal.SIGINT, "KeyboardInterrupt")
        except ProgramError:
            raise
        except BaseException as e:
            _print_unhandled(e)
            return Outcome("exception", 1, 0, _one_line(e))
        return Outcome("exited", 0)

    def enter(self) -> None:
        """Set sys.argv, sys.path[0] and a fresh __main__, as python does before
        any of the program runs.  Called before recording starts, so that this
        setup is the recording's starting state, not a change."""
        if self._main is not None:
            return
        self._main = main = _fresh_main()
        if self.kind == "script":
            path = self.target
            sys.argv[:] = [path, *self.args]
            if os.path.isdir(path) or _is_zip(path):
                _set_path0(path)
                return
            abspath = os.path.abspath(path)
            _set_path0(os.path.dirname(os.path.realpath(path)))
            main.__file__ = abspath
            main.__cached__ = None
            from importlib.machinery import SourceFileLoader

            main.__loader__ = SourceFileLoader("__main__", abspath)
        elif self.kind == "code":
            sys.argv[:] = ["-c", *self.args]
            _set_path0("")
            from importlib.machinery import BuiltinImporter

            main.__loader__ = BuiltinImporter
        else:
            sys.argv[:] = ["-m", *self.args]
            _set_path0(os.getcwd())

    def _execute(self) -> None:
        import runpy

        self.enter()
        main = self._main
        if self.kind == "script" and self._code is None:  # a directory or zip
            main_name, spec, code = runpy._get_main_module_details(_NotFound)
            runpy._run_code(code, main.__dict__, None, "__main__", spec)
        elif self.kind in ("script", "code"):
            exec(self._code, main.__dict__)
        else:
            # What runpy._run_module_as_main does for `python -m`, except that a
            # module that cannot be found is our one-line error, not sys.exit().
            try:
                mod_name, spec, code = runpy._get_module_details(self.target, _NotFound)
            except _NotFound as e:
                raise ProgramError(str(e)) from None
            sys.argv[0] = spec.origin
            runpy._run_code(code, main.__dict__, None, "__main__", spec)


class _NotFound(Exception):
    pass


def _compile(source, filename: str, shown: str):
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as e:
        where = f" line {e.lineno}" if e.lineno else ""
        raise ProgramError(f"syntax error in {shown}{where}: {e.msg}") from None
    except ValueError as e:  # null bytes, bad encoding declaration
        raise ProgramError(f"can't compile {shown}: {e}") from None


def _is_zip(path: str) -> bool:
    # zipfile (with shutil, bz2, lzma, re...) costs ~20 ms: imported only when
    # the file's tail holds a zip's end-of-directory signature (a zipapp may
    # start with a #! line, so the head says nothing).
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - (1 << 16) - 22))
            tail = f.read()
    except OSError:
        return False
    if b"PK\x05\x06" not in tail:
        return False
    import zipfile

    return zipfile.is_zipfile(path)


def _has_main(path: str) -> bool:
    if os.path.isdir(path):
        return any(os.path.exists(os.path.join(path, "__main__" + ext)) for ext in (".py", ".pyc"))
    import zipfile

    with zipfile.ZipFile(path) as z:
        return any(n in ("__main__.py", "__main__.pyc") for n in z.namelist())


def _fresh_main():
    main = type(sys)("__main__")  # a module; `types` is not imported for its name
    main.__builtins__ = builtins
    main.__spec__ = None
    main.__package__ = None
    sys.modules["__main__"] = main
    return main


def _set_path0(entry: str) -> None:
    # python -P (safe_path) prepends nothing, so there is nothing to replace.
    if sys.flags.safe_path:
        return
    if sys.path:
        sys.path[0] = entry
    else:
        sys.path.append(entry)


def _one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _system_exit_outcome(e: SystemExit) -> Outcome:
    # Mirrors CPython's _Py_HandleSystemExit.
    code = e.code
    if code is None:
        return Outcome("exited", 0)
    if isinstance(code, int):
        return Outcome("exited", code)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.stderr.write(f"{code}\n")
        sys.stderr.flush()
    except Exception:
        pass
    return Outcome("exited", 1, 0, str(code))


def _without_spyrec_frames(tb):
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        tb = tb.tb_next
    return tb


def _print_unhandled(e: BaseException) -> None:
    tb = _without_spyrec_frames(e.__traceback__)
    e.__traceback__ = tb
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.excepthook(type(e), e, tb)
    except BaseException as hook_error:  # what CPython does when the hook fails
        sys.__stderr__.write("Error in sys.excepthook:\n")
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        sys.__stderr__.write("\nOriginal exception was:\n")
        sys.__excepthook__(type(e), e, tb)


def die_by_signal(signum: int) -> None:
    """End the process by `signum` with its default action, as python does after Ctrl-C."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    except (OSError, ValueError):
        pass
    _real_os_exit(128 + signum)
