"""A live change (`run --print/--break`, the DAP debuggee) is the dict a query
returns: the recorder hands over the records it wrote and the binding reads
them with the replayer, so the two cannot drift."""

import textwrap

from _programs import run_python, write

PROGRAM = textwrap.dedent(
    """
    import json, sys, spyrec
    from spyrec import _core
    from spyrec.recording_session import Session

    class Box:
        pass

    live = []
    def keep(change):
        assert change.pop("frame").f_code.co_name in ("work", "<module>")
        live.append(change)

    def work():
        CONFIG["name"] = "x"
        CONFIG["items"].append(Box())
        CONFIG["items"][0] = {1, 2}
        del CONFIG["name"]

    CONFIG = {"items": []}
    session = Session(["__main__.CONFIG"], "rec", default_watches=False, on_change=keep, trail=4)
    session.start()
    work()
    session.stop("exited")
    queried = list(_core.open_recording("rec").history("__main__.CONFIG"))
    json.dump({"live": live, "queried": queried}, sys.stdout, default=repr)
    """
)


def test_live_changes_are_the_queries_dicts(tmp_path):
    import json

    write(tmp_path, "app.py", PROGRAM)
    r = run_python(["app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert len(got["live"]) == 4, got
    assert got["live"] == got["queried"]
    first = got["live"][0]
    assert first["opname"] == "STORE_SUBSCR" and first["source"].strip() == 'CONFIG["name"] = "x"'
    assert first["trail"] and first["thread_id"] and first["monotonic_ns"]
