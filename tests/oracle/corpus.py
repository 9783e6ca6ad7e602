"""The exactness corpus: reading tests/cases/ and running the monitors over it.

A case is one file tests/cases/NAME.py (plus an optional package folder
tests/cases/NAME_pkg/ it imports or reads). Its header says what to watch and
where changes may be blamed outside the case's own files:

    # watch: __main__.DATA
    # culprit-elsewhere: os.py _Environ.__setitem__ STORE_SUBSCR
    # requires: numpy
    # preload: warnings

and each line that is the culprit of an expected change ends with

    DATA.append(1)  # culprit: CALL
    ITEMS.extend(produce(4))  # culprit: CALL#2 x4

the opname `dis` shows for the culprit instruction on that line (the same on
3.12 and 3.13); `#N` when the line has several instructions of that opname:
the N-th of them, counting the line's instructions in `dis` order, the
enclosing code object's first, then those of code nested in it (a lambda, a
generator expression); `xK` when K changes land on it (else exactly one).
A case that `requires:` a module the Python running it cannot import is
skipped. A `preload:` module is imported before the case runs, under every
monitor alike (preload/sitecustomize.py): a watch on it then resolves at start
whatever each monitor's own start-up imports. Used by tests/python/test_exactness.py and
scripts/score_exactness.py.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "cases"
ORACLE = ROOT / "tests" / "oracle" / "oracle.py"
BLOG = ROOT / "tests" / "oracle" / "blog_monitor.py"
CULPRIT_FIELDS = ("file", "line", "function", "offset", "opname", "thread")
STACK_FRAMES = 2

_WATCH = re.compile(r"^#\s*watch:\s*(.+?)\s*$")
_ELSEWHERE = re.compile(r"^#\s*culprit-elsewhere:\s*(\S+)\s+(\S+)\s+(\S+)\s*$")
_REQUIRES = re.compile(r"^#\s*requires:\s*(\S+)\s*$")
_PRELOAD = re.compile(r"^#\s*preload:\s*(\S+)\s*$")
PRELOAD_DIR = Path(__file__).resolve().parent / "preload"
_MARK = re.compile(r"#\s*culprit:\s*([A-Z_]+)(?:#(\d+))?(?:\s+x(\d+))?\s*$")


@dataclasses.dataclass(frozen=True)
class Marker:
    opname: str
    nth: int = 0  # which instruction of that opname on the line (1-based); 0: the only one
    count: int = 1  # how many changes land on it

    def __str__(self):
        return self.opname + (f"#{self.nth}" if self.nth else "") + (f" x{self.count}" if self.count != 1 else "")


@dataclasses.dataclass
class Case:
    name: str
    path: Path
    watches: list
    markers: dict  # (file, line) -> Marker
    elsewhere: list  # (file basename, qualname, opname)
    requires: list = dataclasses.field(default_factory=list)  # modules it imports beyond the stdlib
    preload: list = dataclasses.field(default_factory=list)  # modules imported before it runs (preload/)

    @property
    def files(self):
        return sorted({f for f, _ in self.markers} | {str(self.path)} | set(map(str, self.package_files())))

    def package_files(self):
        pkg = self.path.with_name(self.name + "_pkg")
        return sorted(pkg.rglob("*.py")) if pkg.is_dir() else []


def load_case(path):
    path = Path(path).resolve()
    watches, elsewhere, markers, requires, preload = [], [], {}, [], []
    for f in [path] + Case(path.stem, path, [], {}, []).package_files():
        for lineno, text in enumerate(f.read_text().splitlines(), 1):
            if f == path and (m := _WATCH.match(text)):
                watches.append(m.group(1))
            elif f == path and (m := _ELSEWHERE.match(text)):
                elsewhere.append(m.groups())
            elif f == path and (m := _REQUIRES.match(text)):
                requires.append(m.group(1))
            elif f == path and (m := _PRELOAD.match(text)):
                preload.append(m.group(1))
            elif m := _MARK.search(text):
                markers[(str(f), lineno)] = Marker(m.group(1), int(m.group(2) or 0), int(m.group(3) or 1))
    return Case(path.stem, path, watches, markers, elsewhere, requires, preload)


def all_cases():
    return [load_case(p) for p in sorted(CASES_DIR.glob("*.py"))]


def base_file(filename):
    """'<frozen os>' and '/usr/lib/python3.12/os.py' both -> 'os.py'."""
    m = re.fullmatch(r"<frozen (.+)>", filename or "")
    return m.group(1).rsplit(".", 1)[-1] + ".py" if m else os.path.basename(filename or "")


def missing_requirements(case, python=sys.executable):
    """The modules a case `requires:` that `python` cannot import (found, not imported)."""
    if not case.requires:
        return []
    probe = (
        "import importlib.util, sys\nprint(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    )
    proc = subprocess.run([python, "-c", probe, *case.requires], capture_output=True, text=True, timeout=60)
    return proc.stdout.split() if proc.returncode == 0 else list(case.requires)


def unhit_elsewhere(case, changes):
    """The culprit-elsewhere entries no change landed on."""
    hit = {(base_file(c["file"]), c["function"], c["opname"]) for c in changes}
    return [e for e in map(tuple, case.elsewhere) if e not in hit]


def unexpected_changes(case, changes):
    """Messages for changes that land on no marker (the oracle checked against the case)."""
    bad = []
    for c in changes:
        key = (c["file"], c["line"])
        if key in case.markers:
            if case.markers[key].opname != c["opname"]:
                bad.append(f"{c['expr']}: {key} is {c['opname']}, marker says {case.markers[key]}")
            continue
        if (base_file(c["file"]), c["function"], c["opname"]) in {tuple(e) for e in case.elsewhere}:
            if not any(fr["file"] in case.files for fr in c["stack"]):
                bad.append(f"{c['expr']}: change in {c['function']} has no frame of the case in its stack")
            continue
        bad.append(f"{c['expr']}: unmarked culprit {c['file']}:{c['line']} {c['function']} {c['opname']}")
    return bad


def same_opname_offsets(path, line, opname):
    """[(qualname, offset)] of the instructions with that opname on that line,
    in the order a marker's #N counts them (see the module docstring)."""
    import dis

    def walk(code):
        yield code
        for const in code.co_consts:
            if hasattr(const, "co_code"):
                yield from walk(const)

    code = compile(Path(path).read_bytes(), str(path), "exec")
    return [
        (c.co_qualname, i.offset)
        for c in walk(code)
        for i in dis.get_instructions(c)
        if i.positions.lineno == line and i.opname == opname
    ]


def marker_mismatches(case, changes):
    """Messages for markers whose instruction or number of changes the
    changes contradict (checked with `dis` of the Python running this)."""
    bad = []
    for (f, line), mark in case.markers.items():
        here = [c for c in changes if (c["file"], c["line"]) == (f, line)]
        if len(here) != mark.count:
            bad.append(f"{f}:{line}: {len(here)} changes, marker says {mark}")
        same = same_opname_offsets(f, line, mark.opname)
        if not same:
            bad.append(f"{f}:{line}: no {mark.opname} on the line")
            continue
        if len(same) > 1 and not mark.nth:
            bad.append(f"{f}:{line}: {len(same)} {mark.opname} on the line: the marker must say which (#N)")
            continue
        if mark.nth > len(same):
            bad.append(f"{f}:{line}: no {mark.opname} #{mark.nth} on the line")
            continue
        want = same[max(mark.nth, 1) - 1]
        for c in here:
            if (c["function"], c["offset"]) != want:
                bad.append(f"{f}:{line}: a change at {c['function']} @{c['offset']}, marker {mark} is {want}")
    return bad


def _program_env(case, env=None):
    """The environment a case runs in: the same for every monitor and every
    test (pytest's PYTEST_CURRENT_TEST names the test, and os.environ is
    compared value for value), with the case's `preload:` modules imported
    first (preload/sitecustomize.py)."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTEST_CURRENT_TEST", None)
    if case.preload:
        env["SPYREC_CORPUS_PRELOAD"] = ",".join(case.preload)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PRELOAD_DIR), env.get("PYTHONPATH")]))
    # One string hash seed for every run: the same program behaves the same
    # under both monitors (dict and set iteration orders, hash-dependent code).
    env["PYTHONHASHSEED"] = "0"
    return env


def run_monitor(monitor, case, out, python=sys.executable, timeout=240):
    """Run oracle.py or blog_monitor.py over a case; return (changes, CompletedProcess)."""
    cmd = [python, str(monitor), "--json", "--out", str(out)]
    for w in case.watches:
        cmd += ["-w", w]
    cmd.append(str(case.path))
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=case.path.parent, env=_program_env(case)
    )
    changes = json.loads(Path(out).read_text()) if Path(out).exists() else None
    return changes, proc


def uses_threads(case):
    return any("import threading" in Path(f).read_text() for f in case.files)


def run_spyrec(case, rec_dir, python=sys.executable, timeout=240, env=None):
    """Record a case with spyrec; return ({expr: history list}, [CompletedProcess])."""
    cmd = [python, "-m", "spyrec", "run", "--no-default-watches", "-o", str(rec_dir)]
    for w in case.watches:
        cmd += ["-w", w]
    cmd.append(str(case.path))
    procs = [
        subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=case.path.parent, env=_program_env(case, env)
        )
    ]
    histories = {}
    for w in case.watches:
        q = subprocess.run(
            [python, "-m", "spyrec", "query", "-r", str(rec_dir), "history", w, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        procs.append(q)
        # Exit status 1 means "no such change": an empty history.
        histories[w] = json.loads(q.stdout) if q.returncode == 0 else ([] if q.returncode == 1 else None)
    return histories, procs


def by_watch(changes, case):
    return {w: [c for c in changes if c["expr"] == w] for w in case.watches}


# An object compared by identity, as spyrec (`<mod.Type object #7f..>`, a
# class's repr) and the oracle (`<Type at 0x7f..>`) spell it: two processes
# never share addresses, so only "an object here" is compared.
_IDENTITY = re.compile(r"<[^<>]* (?:object #[0-9a-f]+|at 0x[0-9a-f]+)>|<class '[^']*'>")


def comparable_value(value):
    """A before/after value in a form both monitors' JSON reduce to."""
    if isinstance(value, str):
        return _IDENTITY.sub("<object>", value)
    if isinstance(value, list):
        return [comparable_value(x) for x in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("__type__", "__class__"):  # a plain object's type: qualname, or module.qualname
                out["__type__"] = v.rsplit(".", 1)[-1]
            else:
                out[comparable_value(k)] = comparable_value(v)
        return out
    return value


def culprit_fields(change, sets_from=None):
    """Which instruction, in which thread (`sets_from`: as key_fields, unused)."""
    return {k: change.get(k) for k in CULPRIT_FIELDS}


def _sets_sorted(value, paths):
    """`value` with the lists at `paths` (the oracle's set_paths) sorted: a
    set's items are compared in any order (spyrec lists them in the order
    they were added, Python in its own)."""
    for path in paths:
        parent, at = None, value
        try:
            for step in path:
                parent, at = at, at[step]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(at, list):
            ordered = sorted(at, key=lambda x: json.dumps(x, sort_keys=True))
            if parent is None:
                value = ordered
            else:
                parent[path[-1]] = ordered
    return value


def key_fields(change, sets_from=None):
    """What spyrec must agree on, change for change: the culprit, the thread,
    the kind, the values before and after, and the two innermost frames.
    `sets_from`: the oracle's change, whose set_paths say which lists are sets."""
    paths = (sets_from or change).get("set_paths") or {}
    out = culprit_fields(change)
    out["kind"] = change.get("kind")
    for when in ("before", "after"):
        out[when] = _sets_sorted(comparable_value(change.get(when)), paths.get(when, ()))
    out["stack"] = [(f["file"], f["line"], f["function"]) for f in change.get("stack", [])[:STACK_FRAMES]]
    return out
