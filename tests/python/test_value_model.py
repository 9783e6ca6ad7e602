"""The value model end to end (docs/value-model.md): every index of a big
container counts, a change costs what changed, objects inside a value are
compared by identity (or followed with --follow), rebinding to an equal
mutable copy is "rebound", and what spyrec cannot see is said once at the end.
The culprits themselves are held to the oracle in test_exactness.py."""

import json

import pytest
from _programs import spyrec, write


def run(tmp_path, program, *watches, extra=()):
    write(tmp_path, "app.py", program)
    args = ["run", "--no-default-watches", "-o", "rec", *extra]
    for w in watches:
        args += ["-w", w]
    r = spyrec(args + ["app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    return r


def history(tmp_path, expr):
    r = spyrec(["query", "-r", "rec", "history", expr, "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def recording_bytes(tmp_path):
    return sum(f.stat().st_size for f in (tmp_path / "rec").iterdir())


def test_every_index_of_a_5000_item_list_counts(tmp_path):
    run(
        tmp_path,
        """
        BIG = list(range(5000))
        BIG[1000] = -2
        BIG[4000] = -3
        BIG.append(7)
    """,
        "__main__.BIG",
    )
    changes = [c for c in history(tmp_path, "__main__.BIG") if c["kind"] != "appeared"]
    assert [c["line"] for c in changes] == [3, 4, 5]
    assert changes[0]["after"][1000] == -2 and changes[0]["before"][1000] == 1000
    assert changes[1]["after"][4000] == -3
    assert len(changes[2]["after"]) == 5001 and changes[2]["after"][-1] == 7


def test_3000_one_key_inserts_store_what_changed(tmp_path):
    run(
        tmp_path,
        """
        BIG = {}
        for i in range(3000):
            BIG[i] = "x" * 200
    """,
        "__main__.BIG",
    )
    # One full copy of the dict is 0.6 MB; 3000 of them were 1.3 GB in format 1.
    assert recording_bytes(tmp_path) < 10 * 2**20
    r = spyrec(["query", "-r", "rec", "watches", "--json"], tmp_path)
    assert json.loads(r.stdout)[0]["changes"] == 3001
    r = spyrec(["query", "-r", "rec", "value", "__main__.BIG", "--at", "2000", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    value = json.loads(r.stdout)["value"]
    assert len(value) == 1999  # seq 1 is the appearance, seq N stores key N-2


def test_an_object_inside_is_compared_by_identity_unless_followed(tmp_path):
    program = """
        class Finder:
            pass
        HOOKS = [Finder()]
        HOOKS[0].cache = {"a": 1}
        HOOKS[0] = Finder()
    """
    run(tmp_path, program, "__main__.HOOKS")
    lines = [c["line"] for c in history(tmp_path, "__main__.HOOKS") if c["kind"] != "appeared"]
    assert lines == [6], "the finder's own state is not a change of the list; replacing it is"
    run(tmp_path, program, "__main__.HOOKS", extra=["--force", "--follow", "1"])
    lines = [c["line"] for c in history(tmp_path, "__main__.HOOKS") if c["kind"] != "appeared"]
    assert lines == [5, 6]


def test_rebinding_to_an_equal_mutable_copy_is_rebound_and_equal_immutable_is_nothing(tmp_path):
    run(
        tmp_path,
        """
        X = [1, 2]
        X = [1, 2]
        N = 5
        N = 2 + 3
    """,
        "__main__.X",
        "__main__.N",
    )
    assert [c["kind"] for c in history(tmp_path, "__main__.X")] == ["appeared", "rebound"]
    assert [c["kind"] for c in history(tmp_path, "__main__.N")] == ["appeared"]


def test_environ_changes_read_back_as_str(tmp_path):
    run(
        tmp_path,
        """
        import os
        os.environ["SPYREC_VALUE_MODEL"] = "one"
        os.environ["SPYREC_VALUE_MODEL"] = "two"
    """,
        "os.environ",
    )
    after = history(tmp_path, "os.environ")[-1]["after"]
    assert after["SPYREC_VALUE_MODEL"] == "two"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in after.items())


def test_what_cannot_be_seen_is_said_once_at_the_end(tmp_path):
    r = run(
        tmp_path,
        """
        import collections
        DQ = collections.deque([1])
        DQ.append(2)
    """,
        "__main__.DQ",
        "__main__.SETINGS",
    )
    lines = [line for line in r.stderr.splitlines() if line.startswith("spyrec: warning:")]
    assert lines == [
        "spyrec: warning: __main__.DQ holds what spyrec cannot see inside "
        "(collections.deque: contents compared when its length changes or the watch is checked)",
        "spyrec: warning: __main__.SETINGS was never found: `__main__` has no SETINGS",
    ]
    r = spyrec(["query", "-r", "rec", "history", "__main__.SETINGS"], tmp_path)
    assert r.returncode == 1 and "never found" in r.stderr + r.stdout


def test_numpy_array_rebinding_has_a_truthful_before(tmp_path):
    pytest.importorskip("numpy")
    r = run(
        tmp_path,
        """
        import numpy as np
        ARR = np.zeros(3)
        ARR[0] = 5
        ARR = np.ones(3)
    """,
        "__main__.ARR",
    )
    assert "numpy.ndarray: rebinding only" in r.stderr
    changes = history(tmp_path, "__main__.ARR")
    assert [c["line"] for c in changes] == [3, 5]
    assert changes[1]["before"] == changes[0]["after"] != changes[1]["after"]


def test_record_block_follows_objects_when_asked(tmp_path):
    import sys
    import types

    import spyrec as api

    mod = types.ModuleType("spyrec_value_model_case")
    exec("class Entry:\n    pass\nREG = [Entry()]", mod.__dict__)
    sys.modules[mod.__name__] = mod
    try:
        for follow, expected in ((0, []), (1, [{"__class__": "spyrec_value_model_case.Entry", "x": 1}])):
            with api.record(
                watch=[f"{mod.__name__}.REG"],
                output=str(tmp_path / f"rec{follow}"),
                default_watches=False,
                follow=follow,
            ) as rec:
                mod.REG[0].x = follow
            changes = rec.history(f"{mod.__name__}.REG")
            assert [c.after[0] for c in changes] == expected
    finally:
        del sys.modules[mod.__name__]


def test_containers_63_levels_down_are_compared_and_64_are_said_not_to_be(tmp_path):
    r = run(
        tmp_path,
        """
        def nest(n):
            v = [0]
            for _ in range(n):
                v = [v]
            return v
        def innermost(v, n):
            for _ in range(n):
                v = v[0]
            return v
        SEEN = nest(63)
        UNSEEN = nest(64)
        innermost(SEEN, 63)[0] = 1
        innermost(UNSEEN, 64)[0] = 1
    """,
        "__main__.SEEN",
        "__main__.UNSEEN",
    )
    assert [(c["kind"], c["line"]) for c in history(tmp_path, "__main__.SEEN")] == [("appeared", 11), ("modified", 13)]
    assert [(c["kind"], c["line"]) for c in history(tmp_path, "__main__.UNSEEN")] == [("appeared", 12)]
    warning = [line for line in r.stderr.splitlines() if "__main__.UNSEEN" in line]
    assert len(warning) == 1 and "(containers nested deeper than 64): not compared below that depth" in warning[0]
    assert "__main__.SEEN " not in r.stderr
