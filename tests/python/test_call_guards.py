"""Guarded CALLs (recorder/call_guards.h): a CALL of a global Python function
keeps no event of its own once seen. What its event used to note, the
callee's frame entry now takes from CPython: the caller's instruction, so
the stacks of raises and changes in the callee name the call's line. The
exactness corpus (tests/cases/guarded_global_calls.py) checks the culprits
when the guards trip."""

import spyrec
from _programs import spyrec as spyrec_cmd

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


def test_stacks_through_guarded_calls_name_each_calls_line(tmp_path, monkeypatch):
    (tmp_path / "prog.py").write_text(PROGRAM)
    r = spyrec_cmd(["run", "-w", "__main__.LOG", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    monkeypatch.chdir(tmp_path)
    rec = spyrec.open()
    raised = [x for x in rec.exceptions() if x.type == "ValueError"]
    assert len(raised) == 4
    for x in raised:
        assert [(f.function, f.line) for f in x.stack] == [("fail", 5), ("caller", 14), ("outer", 23), ("<module>", 27)]
    changes = [c for c in rec.history("__main__.LOG") if c.kind == "modified"]
    assert len(changes) == 4
    for c in changes:
        assert (c.function, c.line, c.opname) == ("note", 9, "CALL")
        assert [(f.function, f.line) for f in c.stack] == [("note", 9), ("caller", 17), ("outer", 23), ("<module>", 27)]
