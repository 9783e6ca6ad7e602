"""Thread attribution under real preemption.

The exactness corpus makes its threaded cases deterministic. Here two threads
append to one watched list while CPython switches threads every microsecond,
so changes are often first seen by the *other* thread; each change must still
name the thread (and the CALL) that made it. Each thread appends its own name,
so the recording itself says who really did it.
"""

import json
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent("""
    import sys, threading
    sys.setswitchinterval(1e-6)
    SHARED = []
    def work(tag, n):
        for i in range(n):
            SHARED.append(tag)          # line 7: the only culprit
            x = 0
            for j in range(20):
                x += j
    ts = [threading.Thread(target=work, args=(name, 300), name=name) for name in ("alpha", "beta")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
""")


def modified_changes(tmp_path, program):
    """Records `program` watching only __main__.SHARED; its `modified` changes as JSON."""
    script = tmp_path / "threads.py"
    script.write_text(program)
    rec = tmp_path / "rec"
    spyrec = [sys.executable, "-m", "spyrec"]
    subprocess.run(
        spyrec + ["run", "--no-default-watches", "-w", "__main__.SHARED", "-o", str(rec), str(script)],
        check=True,
        cwd=tmp_path,
    )
    out = subprocess.run(
        spyrec + ["query", "-r", str(rec), "history", "__main__.SHARED", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [c for c in json.loads(out) if c["kind"] == "modified"]


def test_preempted_threads_are_blamed_for_their_own_appends(tmp_path):
    changes = modified_changes(tmp_path, PROGRAM)
    assert len(changes) == 600
    wrong = []
    for c in changes:
        added = c["after"][len(c["before"]) :]
        if added != [c["thread"]] or (c["line"], c["opname"], c["function"]) != (7, "CALL", "work"):
            wrong.append((c["seq"], c["thread"], added, c["line"], c["opname"]))
    assert not wrong, f"{len(wrong)} misattributed, e.g. {wrong[:3]}"


GUARDED = textwrap.dedent("""
    import operator, threading, time
    from functools import partial
    SHARED = []
    done = threading.Event()
    def add(tag):
        any(map(operator.call, [partial(SHARED.append, tag), partial(time.sleep, 0.05)]))  # line 7
    def work():
        for i in range(3):
            n = i
            n += 1
            add("main")             # line 12: guarded after its first run, no CALL event
        done.set()
    def spin():
        n = 0
        while not done.is_set():
            n += 1
    t = threading.Thread(target=spin, name="spinner")
    t.start()
    work()                          # line 20
    t.join()
""")


def test_callers_of_a_change_seen_by_another_thread_are_where_they_are(tmp_path):
    # Each append is made in C right before a sleep that lets the spinner
    # run, so the spinner's event sees it first. add() is called through a
    # disabled (guarded) CALL, so work()'s shadow offset is its previous
    # event's (line 11); the stack must still show work() at line 12: the
    # callers are read from the culprit thread's own frames.
    changes = modified_changes(tmp_path, GUARDED)
    stacks = [(c["thread"], [(f["function"], f["line"]) for f in c["stack"]]) for c in changes]
    assert stacks == [("MainThread", [("add", 7), ("work", 12), ("<module>", 20)])] * 3
