"""The notebook renderings (html.py): culprit marked, everything escaped."""

import os
import sys

import pytest
import spyrec
from spyrec import html as spyrec_html

EVIL = "<script>alert('x')</script>"


def _change(**over):
    d = {
        "expr": "m.CONFIG",
        "seq": 5,
        "thread": "T<1>",
        "thread_id": 1,
        "kind": "modified",
        "file": "/nowhere/<b>.py",
        "line": 3,
        "function": "f<g>",
        "offset": 8,
        "opname": "STORE_SUBSCR",
        "stack": [{"file": "/nowhere/<b>.py", "line": 3, "function": "f<g>"}],
        "before": {"k": EVIL},
        "after": {"k": 1},
        "diff": [f"~ ['k']: {EVIL!r} -> 1"],
        "source": f"    CONFIG['k'] = {EVIL!r}",
    }
    d.update(over)
    return spyrec.Change.from_dict(d)


def test_change_html_escapes_everything_recorded():
    page = _change()._repr_html_()
    assert "<script>" not in page and "<b>.py" not in page and "f<g>" not in page
    assert "&lt;script&gt;" in page and "T&lt;1&gt;" in page
    assert "STORE_SUBSCR (offset 8)" in page


def test_change_without_diff_lines_shows_before_and_after():
    page = _change(diff=[], kind="appeared", before=None, before_exists=False)._repr_html_()
    assert "(did not exist)" in page and "&quot;k&quot;: 1" in page


@pytest.fixture()
def recorded(tmp_path, monkeypatch):
    """A record() block changing a module's CONFIG twice, a value holding HTML."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "htmlmod.py").write_text(
        "CONFIG = {'title': 'plain', 'n': 0}\ndef retitle(text):\n    CONFIG['n'] += 1; CONFIG['title'] = text\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import htmlmod

    with spyrec.record(watch=["htmlmod.CONFIG"], default_watches=False) as rec:
        htmlmod.retitle(EVIL)
    yield rec
    sys.modules.pop("htmlmod", None)


def test_change_html_underlines_the_culprit_among_several_on_its_line(recorded):
    first, second = recorded.history("htmlmod.CONFIG")
    # one line, two stores: each change marks its own store's span
    assert "CONFIG[&#x27;n&#x27;]</span> += 1; CONFIG[&#x27;title&#x27;] = text" in first._repr_html_()
    page = second._repr_html_()
    assert "CONFIG[&#x27;n&#x27;] += 1; <span" in page
    assert ">CONFIG[&#x27;title&#x27;]</span> = text" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "change 2 of 2" in page and "<svg" in page


def test_history_html_is_a_timeline_and_a_table(recorded):
    history = recorded.history("htmlmod.CONFIG")
    page = history._repr_html_()
    assert "2 changes, oldest first" in page
    assert page.count("<rect") == 2 and page.count("<tr") == 3
    assert "<script>" not in page
    with pytest.raises(spyrec.NotWatchedError):
        recorded.history("htmlmod.OTHER")
    empty = spyrec.History("htmlmod.CONFIG", [], recorded)
    assert "no changes" in str(empty)
    assert "0 changes" in empty._repr_html_()


def test_recording_html_has_a_row_and_a_timeline_per_watch(recorded):
    page = recorded._repr_html_()
    assert "htmlmod.CONFIG" in page and "<svg" in page
    assert page.count("<rect") == 2
    assert "retitle" in page  # the last change
    assert "ended: stopped" in page


def test_stack_folds_the_installation_frames_around_a_cell():
    import sysconfig

    lib = sysconfig.get_paths()["purelib"]
    frames = [
        spyrec.Frame("/tmp/ipykernel_1/2.py", 3, "f"),
        spyrec.Frame("/tmp/ipykernel_1/2.py", 5, "<module>"),
        spyrec.Frame(os.path.join(lib, "IPython", "core", "interactiveshell.py"), 1, "run_code"),
    ]
    page = spyrec_html.stack_html(frames, None)
    before, _, folded = page.partition("<details>")
    assert "2.py:5 in &lt;module&gt;" in before and "run_code" in folded
    assert "1 more frames" in folded
