"""The exactness corpus: reading tests/cases/ and running the monitors over it.

A case is one file tests/cases/NAME.py (plus an optional package folder
tests/cases/NAME_pkg/ it imports or reads). Its header says what to watch and
where changes may be blamed outside the case's own files:

    # watch: __main__.DATA
    # culprit-elsewhere: os.py _Environ.__setitem__ STORE_SUBSCR
    # requires: numpy

and each line that is the culprit of an expected change ends with

    DATA.append(1)  # culprit: CALL

(the opname `dis` shows for the culprit instruction on that line, the same on
3.12 and 3.13). A case that `requires:` a module the Python running it
cannot import is skipped. Used by tests/python/test_exactness.py and
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
COMPARED_FIELDS = ("file", "line", "function", "offset", "opname", "thread")

_WATCH = re.compile(r"^#\s*watch:\s*(.+?)\s*$")
_ELSEWHERE = re.compile(r"^#\s*culprit-elsewhere:\s*(\S+)\s+(\S+)\s+(\S+)\s*$")
_REQUIRES = re.compile(r"^#\s*requires:\s*(\S+)\s*$")
_MARK = re.compile(r"#\s*culprit:\s*([A-Z_]+)\s*$")


@dataclasses.dataclass
class Case:
    name: str
    path: Path
    watches: list
    markers: dict      # (file, line) -> opname
    elsewhere: list    # (file basename, qualname, opname)
    requires: list = dataclasses.field(default_factory=list)  # modules it imports beyond the stdlib

    @property
    def files(self):
        return sorted({f for f, _ in self.markers} | {str(self.path)} | set(map(str, self.package_files())))

    def package_files(self):
        pkg = self.path.with_name(self.name + "_pkg")
        return sorted(pkg.rglob("*.py")) if pkg.is_dir() else []


def load_case(path):
    path = Path(path).resolve()
    watches, elsewhere, markers, requires = [], [], {}, []
    for f in [path] + Case(path.stem, path, [], {}, []).package_files():
        for lineno, text in enumerate(f.read_text().splitlines(), 1):
            if f == path and (m := _WATCH.match(text)):
                watches.append(m.group(1))
            elif f == path and (m := _ELSEWHERE.match(text)):
                elsewhere.append(m.groups())
            elif f == path and (m := _REQUIRES.match(text)):
                requires.append(m.group(1))
            elif m := _MARK.search(text):
                markers[(str(f), lineno)] = m.group(1)
    return Case(path.stem, path, watches, markers, elsewhere, requires)


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
    probe = ("import importlib.util, sys\n"
             "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
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
            if case.markers[key] != c["opname"]:
                bad.append(f"{c['expr']}: {key} is {c['opname']}, marker says {case.markers[key]}")
            continue
        if (base_file(c["file"]), c["function"], c["opname"]) in {tuple(e) for e in case.elsewhere}:
            if not any(fr["file"] in case.files for fr in c["stack"]):
                bad.append(f"{c['expr']}: change in {c['function']} has no frame of the case in its stack")
            continue
        bad.append(f"{c['expr']}: unmarked culprit {c['file']}:{c['line']} {c['function']} {c['opname']}")
    return bad


def run_monitor(monitor, case, out, python=sys.executable, timeout=240):
    """Run oracle.py or blog_monitor.py over a case; return (changes, CompletedProcess)."""
    cmd = [python, str(monitor), "--json", "--out", str(out)]
    for w in case.watches:
        cmd += ["-w", w]
    cmd.append(str(case.path))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=case.path.parent)
    changes = json.loads(Path(out).read_text()) if Path(out).exists() else None
    return changes, proc


def run_spyrec(case, rec_dir, python=sys.executable, timeout=240):
    """Record a case with spyrec; return ({expr: history list}, [CompletedProcess])."""
    cmd = [python, "-m", "spyrec", "run", "--no-default-watches", "-o", str(rec_dir)]
    for w in case.watches:
        cmd += ["-w", w]
    cmd.append(str(case.path))
    procs = [subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=case.path.parent)]
    histories = {}
    for w in case.watches:
        q = subprocess.run([python, "-m", "spyrec", "query", "-r", str(rec_dir), "history", w, "--json"],
                           capture_output=True, text=True, timeout=60)
        procs.append(q)
        # Exit status 1 means "no such change": an empty history.
        histories[w] = json.loads(q.stdout) if q.returncode == 0 else ([] if q.returncode == 1 else None)
    return histories, procs


def by_watch(changes, case):
    return {w: [c for c in changes if c["expr"] == w] for w in case.watches}


def key_fields(change):
    return {k: change.get(k) for k in COMPARED_FIELDS}
