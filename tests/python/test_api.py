"""The Python API: spyrec.open(), Recording, Change, spyrec.record()."""
import json
import os
import shutil

import pytest

import spyrec
from _programs import REPO, spyrec as spyrec_cmd


@pytest.fixture()
def rec(tmp_path, monkeypatch):
    shutil.copytree(os.path.join(REPO, "samples"), tmp_path / "samples")
    r = spyrec_cmd(["run", "samples/syspath_demo.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    monkeypatch.chdir(tmp_path)
    return spyrec.open()


def test_last_change_is_a_change_with_the_contract_fields(rec):
    ch = rec.last_change("sys.path")
    assert isinstance(ch, spyrec.Change)
    assert (ch.line, ch.function, ch.opname) == (9, "<module>", "CALL")
    assert ch.file.endswith("syspath_demo.py")
    assert ch.stack[0].line == 9
    data = ch.to_json()
    assert {"expr", "seq", "thread", "file", "line", "function", "offset", "opname",
            "stack", "before", "after"} <= set(data)
    json.dumps(data)
    assert "+ [0] 'animals'" in ch.diff()
    assert str(ch).startswith("sys.path changed at samples/syspath_demo.py:9 in <module>")
    assert 'sys.path.insert(0, "animals")' in ch.source
    assert "<" in ch._repr_html_()


def test_history_and_changes_filters_agree(rec):
    history = rec.history("sys.path")
    assert history[-1].seq == rec.last_change("sys.path").seq
    assert [c.seq for c in rec.changes(watch="sys.path")] == [c.seq for c in history]
    assert list(rec.changes(watch="sys.path", function="no_such_function")) == []
    in_demo = [c.seq for c in history if c.file.endswith("samples/syspath_demo.py")]
    assert in_demo
    assert [c.seq for c in rec.changes(file="samples/syspath_demo.py", watch="sys.path")] == in_demo


def test_value_at(rec):
    ch = rec.last_change("sys.path")
    assert rec.value_at("sys.path", ch.seq)[0] == "animals"


def test_open_without_a_recording_raises_recording_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(spyrec.RecordingError):
        spyrec.open()
    with pytest.raises(spyrec.RecordingError):
        spyrec.open(str(tmp_path / "nope"))


def test_record_a_block(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import sys
    with spyrec.record(default_watches=False, watch=["sys.path"]) as rec:
        sys.path.append("from-a-block")
    sys.path.remove("from-a-block")
    ch = rec.last_change("sys.path")
    assert ch is not None
    assert ch.opname == "CALL"
    assert ch.function == "test_record_a_block"
    assert "<" in rec._repr_html_()
