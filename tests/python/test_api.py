"""The Python API: spyrec.open(), Recording, Change, spyrec.record()."""

import json
import os
import shutil

import pytest
import spyrec
from _programs import REPO
from _programs import spyrec as spyrec_cmd


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
    assert {"expr", "seq", "thread", "file", "line", "function", "offset", "opname", "stack", "before", "after"} <= set(
        data
    )
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


# ---- a program with a module-level CONFIG (samples/inventory.py) -------------------


@pytest.fixture()
def inventory(tmp_path, monkeypatch):
    """samples/inventory.py recorded by `spyrec run`: CONFIG appears, then
    set_currency and promo_prices change it."""
    shutil.copytree(
        os.path.join(REPO, "samples"), tmp_path / "samples", ignore=shutil.ignore_patterns(".spyrec", "*.ipynb")
    )
    r = spyrec_cmd(["run", "-w", "__main__.CONFIG", "samples/inventory.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    monkeypatch.chdir(tmp_path)
    return spyrec.open()


CONFIG = "__main__.CONFIG"


def test_open_takes_a_path_and_defaults_to_latest(inventory, tmp_path):
    again = spyrec.open(str(tmp_path / ".spyrec" / "latest"))
    assert again.last_change(CONFIG).seq == inventory.last_change(CONFIG).seq


def test_info_and_watches(inventory):
    info = inventory.info()
    assert info["argv"][0].endswith("inventory.py")
    assert info["ending"]["how"] == "exited"
    watches = {w["expr"]: w for w in inventory.watches()}
    assert "sys.path" in watches  # the defaults
    assert watches[CONFIG]["changes"] == 3
    assert inventory.watched("__main__ . CONFIG".replace(" ", ""))
    assert "changes:" in str(inventory) and CONFIG in str(inventory)


def test_last_change_names_the_store_on_a_line_with_a_call(inventory):
    ch = inventory.last_change(CONFIG)
    assert (ch.function, ch.line, ch.opname, ch.kind) == ("promo_prices", 28, "STORE_SUBSCR", "modified")
    assert ch.diff() == "~ ['discount']: 0.0 -> 0.1"
    assert ch.before["discount"] == 0.0 and ch.after["discount"] == 0.1
    assert [(f.function, f.line) for f in ch.stack] == [("promo_prices", 28), ("main", 39), ("<module>", 48)]
    assert ch.where == "samples/inventory.py:28 in promo_prices"
    assert repr(ch) == (
        "<spyrec.Change __main__.CONFIG seq 3: STORE_SUBSCR at samples/inventory.py:28 in promo_prices>"
    )
    # the text report underlines the store's target, not the whole line
    lines = str(ch).splitlines()
    assert lines[1].endswith('| rates["discount"] = round(rates["discount"] + extra, 2)')
    assert lines[2].strip().startswith("^" * len('rates["discount"]') + " STORE_SUBSCR")


def test_source_is_the_recorded_context_with_the_culprit_marked(inventory):
    ch = inventory.last_change(CONFIG)
    context = ch.source_context(1, 1)
    assert [n for n, _, _ in context] == [27, 28, 29]
    assert [hit for _, _, hit in context] == [False, True, False]
    marked = [l for l in ch.source.splitlines() if l.startswith(">")]
    assert marked == ['>   28 |     rates["discount"] = round(rates["discount"] + extra, 2)']


def test_history_is_a_list_of_changes_oldest_first(inventory):
    history = inventory.history(CONFIG)
    assert isinstance(history, list) and isinstance(history, spyrec.History)
    assert [(c.kind, c.opname, c.function) for c in history] == [
        ("appeared", "STORE_NAME", "<module>"),
        ("modified", "STORE_SUBSCR", "set_currency"),
        ("modified", "STORE_SUBSCR", "promo_prices"),
    ]
    assert history[0].diff().startswith("+ {'currency': 'USD'")
    assert str(history).startswith("__main__.CONFIG: 3 changes, oldest first")
    assert repr(history) == str(history)
    with pytest.raises(spyrec.NotWatchedError):
        inventory.history("__main__.NOT_WATCHED")


def test_value_at_rebuilds_plain_values(inventory):
    first, currency, discount = inventory.history(CONFIG)
    assert inventory.value_at(CONFIG, currency.seq) == {"currency": "EUR", "tax": 0.2, "discount": 0.0, "rounding": 2}
    assert inventory.value_at(CONFIG, discount.seq)["discount"] == 0.1
    assert inventory.value_at(CONFIG, discount.seq - 1)["discount"] == 0.0
    with pytest.raises(LookupError):
        inventory.value_at(CONFIG, first.seq - 1)  # before `CONFIG = ...`
    assert inventory.value_at(CONFIG, first.seq - 1, default=None) is None


def test_iteration_and_filters(inventory):
    everything = list(inventory)
    assert [c.seq for c in everything] == sorted(c.seq for c in everything)
    mine = [c.seq for c in inventory.history(CONFIG)]
    assert [c.seq for c in inventory.changes(watch=CONFIG)] == mine
    assert [c.function for c in inventory.changes(watch=CONFIG, function="promo_prices")] == ["promo_prices"]
    assert [c.function for c in inventory.changes(file="inventory.py", watch=CONFIG)] == [
        "<module>",
        "set_currency",
        "promo_prices",
    ]
    assert [c.seq for c in inventory.changes(watch=CONFIG, seq_range=(mine[1], mine[2]))] == [mine[1]]
    assert [c.seq for c in inventory.changes(watch=CONFIG, seq_range=range(mine[2], mine[2] + 1))] == [mine[2]]
    assert [c.seq for c in inventory.changes(watch=CONFIG, seq_range=(mine[2], None))] == [mine[2]]
    assert len(list(inventory.changes(watch=CONFIG, thread="MainThread"))) == 3
    assert list(inventory.changes(watch=CONFIG, thread="no-such-thread")) == []
    tid = everything[0].thread_id
    assert len(list(inventory.changes(watch=CONFIG, thread=tid))) == 3


def test_exceptions(tmp_path, monkeypatch):
    (tmp_path / "raises.py").write_text(
        "def f():\n    raise KeyError('missing')\ntry:\n    f()\nexcept KeyError:\n    pass\n"
    )
    r = spyrec_cmd(["run", "raises.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    monkeypatch.chdir(tmp_path)
    raised = [x for x in spyrec.open().exceptions() if x.type == "KeyError"]
    assert raised and raised[0].function == "f" and raised[0].line == 2
    assert raised[0].opname == "RAISE_VARARGS"
    assert "KeyError" in repr(raised[0]) and "KeyError: " in str(raised[0])
    json.dumps(raised[0].to_json())


def test_to_dataframe_has_a_row_per_change(inventory):
    pytest.importorskip("pandas")
    df = inventory.to_dataframe(watch=CONFIG)
    assert list(df["function"]) == ["<module>", "set_currency", "promo_prices"]
    assert list(df.columns[:4]) == ["seq", "expr", "kind", "thread"]
    assert df.iloc[-1]["diff"] == "~ ['discount']: 0.0 -> 0.1"
    assert df.iloc[-1]["after"]["discount"] == 0.1
    assert len(inventory.history(CONFIG).to_dataframe()) == 3


def test_plot_draws_a_step_line_per_watch(inventory):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = inventory.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert CONFIG in labels
    line = ax.get_lines()[labels.index(CONFIG)]
    assert list(line.get_ydata()) == [1, 2, 3]
    assert ax.get_xlabel() == "seq"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [CONFIG]  # "__main__" too


def test_missing_pandas_or_matplotlib_is_a_clear_import_error(inventory, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_extras(name, *args, **kw):
        if name.split(".")[0] in ("pandas", "matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_extras)
    with pytest.raises(ImportError, match="needs pandas: pip install pandas"):
        inventory.to_dataframe()
    with pytest.raises(ImportError, match="needs matplotlib: pip install matplotlib"):
        inventory.plot()


def test_a_failing_labels_callable_costs_the_labels_not_the_recording(tmp_path):
    with spyrec.record(["sys.path"], str(tmp_path / "rec"), default_watches=False, labels=lambda: 1 / 0) as rec:
        import sys

        sys.path.append("x")
    assert rec.info()["ending"]["how"] == "stopped"
    assert rec.last_change("sys.path").opname.startswith("CALL")
    assert rec.file_labels == {}
