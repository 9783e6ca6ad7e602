"""Guarded CALLs (recorder/call_guards.h): a CALL of a global Python function
keeps no event of its own once seen. What its event used to note, the
callee's frame entry now takes from CPython: the caller's instruction, so
the stacks of raises and changes in the callee name the call's line. The
exactness corpus (tests/cases/guarded_global_calls.py) checks the culprits
when the guards trip."""

import subprocess
import sys

import spyrec
from _programs import env as program_env
from _programs import recording_of
from _programs import spyrec as run_spyrec

PROGRAM = """\
LOG = []


def fail(n):
    raise ValueError(n)


def note(n):
    LOG.append(n)


def caller(n):
    try:
        fail(n)
    except ValueError:
        pass
    note(n)


def outer(n):
    total = 0
    total += n
    caller(n)


for i in range(4):
    outer(i)
"""


def test_stacks_through_guarded_calls_name_each_calls_line(tmp_path):
    rec = recording_of(tmp_path, PROGRAM, "__main__.LOG")
    raised = [x for x in rec.exceptions() if x.type == "ValueError"]
    assert len(raised) == 4
    for x in raised:
        assert [(f.function, f.line) for f in x.stack] == [("fail", 5), ("caller", 14), ("outer", 23), ("<module>", 27)]
    changes = [c for c in rec.history("__main__.LOG") if c.kind == "modified"]
    assert len(changes) == 4
    for c in changes:
        assert (c.function, c.line, c.opname) == ("note", 9, "CALL")
        assert [(f.function, f.line) for f in c.stack] == [("note", 9), ("caller", 17), ("outer", 23), ("<module>", 27)]


OTHER_GLOBALS = """\
import types


def helper():
    pass


def inner():
    helper()
    raise ValueError("inner")


target = inner


def outer():
    try:
        target()
    except ValueError:
        pass


for i in range(3):
    outer()
target = types.FunctionType(inner.__code__, {"helper": lambda: None, "__builtins__": __builtins__})
outer()
"""


def test_a_refused_guard_still_names_the_callers_line(tmp_path):
    # The last outer() runs inner's code with other globals: its entry
    # refuses the guards, and the raise's stack still names outer's call.
    raised = [x for x in recording_of(tmp_path, OTHER_GLOBALS).exceptions() if x.type == "ValueError"]
    assert len(raised) == 4
    stacks = [[(f.function, f.line) for f in x.stack] for x in raised]
    assert stacks == [[("inner", 10), ("outer", 18), ("<module>", 24)]] * 3 + [
        [("inner", 10), ("outer", 18), ("<module>", 26)]
    ]


TWO_RECORDINGS = """\
import spyrec

WATCHED = []


def ident(x):
    return x


def fill(items):
    pass


def driver(items):
    fill(items)


with spyrec.record(["__main__.WATCHED"], "first", default_watches=False):
    for i in range(3):
        driver([i])
fill = WATCHED.extend
with spyrec.record(["__main__.WATCHED"], "second", default_watches=False):
    driver(map(ident, [1, 2, 3]))
"""


def test_what_an_earlier_recording_guarded_holds_nothing_in_the_next(tmp_path):
    # fill() was guarded in the first recording; in the second it is
    # list.extend over a map that calls Python: one change per item, each
    # blamed on driver's call.
    (tmp_path / "prog.py").write_text(TWO_RECORDINGS)
    r = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, env=program_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    changes = [c for c in spyrec.open(str(tmp_path / "second")).history("__main__.WATCHED") if c.kind == "modified"]
    assert [c.after for c in changes] == [[1], [1, 2], [1, 2, 3]]
    assert {(c.function, c.line, c.opname) for c in changes} == {("driver", 15, "CALL")}


PINNED_LOOP = """\
import sys

restarts = []
real_restart = sys.monitoring.restart_events


def counting_restart():
    restarts.append(1)
    return real_restart()


sys.monitoring.restart_events = counting_restart


def loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


for _ in range(3):
    loop(3)
before = len(restarts)
range = lambda n: [n]
loop(3)
print(before, len(restarts))
"""


def test_a_loop_over_range_is_guarded_with_range_pinned(tmp_path):
    # loop()'s FOR_ITER lost its event under a guard that pins the global
    # `range` to the builtin (call_guards.h, "Loops"). Rebinding it to a
    # Python function keeps every CALL guard, but trips the pinned one: the
    # recorder gives every event back (sys.monitoring.restart_events).
    (tmp_path / "prog.py").write_text(PINNED_LOOP)
    r = run_spyrec(["run", "-o", str(tmp_path / "rec"), "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1"]
