"""`spyrec export`: Parquet tables that pyarrow and DuckDB read back equal to
`query history --json`, across several recordings; a Perfetto trace that
is well formed."""

import json
import os

import pytest
from _programs import spyrec, write

pa_parquet = pytest.importorskip("pyarrow.parquet")
duckdb = pytest.importorskip("duckdb")

APP = """
    import multiprocessing as mp, sys

    CONFIG = {"n": 0}

    def bump():
        CONFIG["n"] += 10                         # line 7

    if __name__ == "__main__":
        CONFIG["n"] = int(sys.argv[1])            # line 10
        p = mp.get_context("fork").Process(target=bump)
        p.start(); p.join()
        try:
            {}["missing"]                         # line 14
        except KeyError:
            pass
"""
FIELDS = (
    "expr",
    "seq",
    "thread",
    "task",
    "file",
    "line",
    "function",
    "offset",
    "opname",
    "pid",
    "monotonic_ns",
    "kind",
)


def record(tmp_path, name, arg):
    r = spyrec(["run", "-o", name, "-w", "__main__.CONFIG", "app.py", str(arg)], tmp_path)
    assert r.returncode == 0, r.stderr


def history(tmp_path, rec, *extra):
    r = spyrec(["query", "-r", rec, "history", "__main__.CONFIG", "--json", *extra], tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_parquet_round_trip_of_several_recordings_read_by_pyarrow_and_duckdb(tmp_path):
    write(tmp_path, "app.py", APP)
    record(tmp_path, "ci-run-1", 1)
    record(tmp_path, "ci-run-2", 2)
    r = spyrec(["export", "--format", "parquet", "-r", "ci-run-1", "-r", "ci-run-2", "-o", "out"], tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(tmp_path / "out"))
    assert [f.split("-")[0] for f in files] == ["changes"] * 2 + ["exceptions"] * 2 + ["locations"] * 2 + [
        "processes"
    ] * 2

    for rec in ("ci-run-1", "ci-run-2"):
        expected = [{k: c[k] for k in FIELDS} for c in history(tmp_path, rec)]
        changes_file = next(
            f
            for f in files
            if f.startswith("changes-")
            and pa_parquet.read_table(tmp_path / "out" / f).column("pid")[0].as_py() == expected[0]["pid"]
        )
        table = pa_parquet.read_table(tmp_path / "out" / changes_file)
        got = [{k: row[k] for k in FIELDS} for row in table.to_pylist() if row["expr"] == "__main__.CONFIG"]
        assert got == expected  # same rows, same order, same culprits
        assert len({row["recording"] for row in table.to_pylist()}) == 1

    # The documented question, across every run: which instruction changed X?
    culprits = duckdb.sql(f"""
        SELECT file, line, opname, count(*) AS n, count(DISTINCT recording) AS runs
        FROM '{tmp_path}/out/changes-*.parquet'
        WHERE expr = '__main__.CONFIG' AND kind = 'modified'
        GROUP BY ALL ORDER BY line""").fetchall()
    assert [(os.path.basename(f), line, op, n, runs) for f, line, op, n, runs in culprits] == [
        ("app.py", 7, "STORE_SUBSCR", 2, 2),
        ("app.py", 10, "STORE_SUBSCR", 2, 2),
    ]
    # The worker's change carries the worker's pid, which the processes table names.
    rows = duckdb.sql(f"""
        SELECT p.parent_pid > 0, p.argv[1]
        FROM '{tmp_path}/out/changes-*.parquet' c JOIN '{tmp_path}/out/processes-*.parquet' p
          ON c.recording = p.recording AND c.pid = p.pid
        WHERE c.line = 7""").fetchall()
    assert rows == [(True, "app.py")] * 2
    # Exceptions and locations.
    raised = duckdb.sql(f"""SELECT type, line FROM '{tmp_path}/out/exceptions-*.parquet'
                            WHERE file LIKE '%app.py'""").fetchall()
    assert raised == [("KeyError", 14)] * 2
    where = duckdb.sql(f"""SELECT sum(changes) FROM '{tmp_path}/out/locations-*.parquet'
                           WHERE line = 7""").fetchall()
    assert where == [(2,)]


def test_parquet_values_only_when_asked(tmp_path):
    write(tmp_path, "app.py", APP)
    record(tmp_path, "rec", 5)
    assert spyrec(["export", "--format", "parquet", "-r", "rec", "-o", "plain"], tmp_path).returncode == 0
    assert spyrec(["export", "--format", "parquet", "-r", "rec", "-o", "full", "--values"], tmp_path).returncode == 0
    plain = duckdb.sql(
        f"SELECT after FROM '{tmp_path}/plain/changes-*.parquet' WHERE expr = '__main__.CONFIG' AND line = 7"
    ).fetchall()
    full = duckdb.sql(
        f"SELECT after FROM '{tmp_path}/full/changes-*.parquet' WHERE expr = '__main__.CONFIG' AND line = 7"
    ).fetchall()
    assert plain == [(None,)]
    assert [json.loads(a) for (a,) in full] == [{"n": 15}]


def test_perfetto_trace_is_well_formed_with_a_track_per_process_and_thread(tmp_path):
    write(tmp_path, "app.py", APP)
    record(tmp_path, "rec", 3)
    r = spyrec(["export", "--format", "perfetto", "-r", "rec", "-o", "trace.json"], tmp_path)
    assert r.returncode == 0, r.stderr
    trace = json.loads((tmp_path / "trace.json").read_text())
    events = trace["traceEvents"]
    # Chrome JSON trace format, as the Perfetto UI reads it.
    for e in events:
        assert e["ph"] in ("M", "i") and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "i":
            assert e["s"] == "t" and isinstance(e["ts"], (int, float)) and e["cat"] in ("change", "exception")
            assert "culprit" in e["args"]
    processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    instants = [e for e in events if e["ph"] == "i"]
    assert len(processes) == 2
    assert {(e["pid"], e["tid"]) for e in instants} == threads  # every event on a named track
    changes = [e for e in instants if e["cat"] == "change" and e["name"].startswith("__main__.CONFIG")]
    assert [e["args"]["culprit"].split(" in ")[0].rsplit("/", 1)[-1] for e in changes if "modified" in e["name"]] == [
        "app.py:10",
        "app.py:7",
    ]
    expected = history(tmp_path, "rec")
    assert [e["args"]["seq"] for e in changes] == [c["seq"] for c in expected]
    assert [e["ts"] for e in changes] == sorted(e["ts"] for e in changes)
    assert any(e["cat"] == "exception" and e["name"] == "KeyError" for e in instants)


def test_export_bad_input_is_one_line(tmp_path):
    r = spyrec(["export", "--format", "parquet", "-r", "nothing-here"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no recording at" in r.stderr
    r = spyrec(["export", "--format", "csv"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    write(tmp_path, "app.py", APP)
    record(tmp_path, "rec", 1)
    r = spyrec(["export", "--format", "perfetto", "-r", "rec", "-r", "rec"], tmp_path)
    assert r.returncode == 2 and "one -r" in r.stderr
    (tmp_path / "file").write_text("")
    r = spyrec(["export", "--format", "parquet", "-r", "rec", "-o", "file"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot write" in r.stderr, r.stderr
