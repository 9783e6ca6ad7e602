"""A change's whole stack, every frame, against what `traceback` sees at the
mutating instruction: through a generator, a frame called back from C
(`sorted`'s key), a class body, a lambda, a coroutine, and a property setter
that STORE_ATTR calls (an instruction that keeps no event of its own). The recorder reads
the callers from CPython's interpreter frames, skipping the C entry frames
and frames still in their prologue, as PyFrame_GetBack does; this test holds
it to that."""

import json

from _programs import recording_of

PROGRAM = """\
import asyncio
import json
import traceback

BOX = []
SEEN = []


def mutate(tag):
    SEEN.append([(f.name, f.lineno) for f in traceback.extract_stack()[:-1] if f.filename == __file__])
    BOX.append(tag)


def gen():
    mutate("gen")
    yield 1


def key(x):
    mutate("key")
    return x


class Made:
    mutate("class body")


async def coro():
    mutate("coro")


class Holder:
    @property
    def v(self):
        return 0

    @v.setter
    def v(self, value):
        mutate("setter")


def set_through_property(x):
    h = Holder()
    h.v = x  # STORE_ATTR keeps no event: this line is known from CPython's frame only
    return x


def main():
    list(gen())
    sorted([1], key=key)
    (lambda: mutate("lambda"))()
    asyncio.run(coro())
    sorted([1], key=set_through_property)


main()
with open("seen.json", "w") as f:
    json.dump(SEEN, f)
"""


def test_every_frame_of_a_changes_stack_is_the_one_traceback_sees(tmp_path):
    rec = recording_of(tmp_path, PROGRAM, "__main__.BOX")
    seen = json.loads((tmp_path / "seen.json").read_text())
    changes = [c for c in rec.history("__main__.BOX") if c.kind == "modified"]
    assert len(changes) == len(seen) == 6
    for change, expected in zip(changes, seen):
        # spyrec names a function by its qualified name, traceback by co_name.
        recorded = [(f.function.split(".")[-1], f.line) for f in change.stack if f.file.endswith("prog.py")]
        # The culprit's own frame is at BOX.append, a line after the traceback call.
        assert recorded[0] == ("mutate", 11)
        assert [list(f) for f in reversed(recorded[1:])] == expected


AFTER_A_PURE_RAISE = """\
class State:
    pass


STATE = State()


def get(d, k):
    return d[k]  # pure code: its frame is never on the shadow stack


def f(d):
    try:
        get(d, "x")
    except KeyError:
        pass
    STATE.a = 1
    STATE.b = 2
    STATE.c = 3


def main():
    f({})


main()
"""


def test_a_raise_in_pure_code_leaves_no_frame_behind(tmp_path):
    # The RAISE in `get` is recorded with `get` on top of its stack; later
    # changes in `f` (stores the dict watcher sees, with no event of their
    # own) must show f at each store's line, under no phantom `get`.
    rec = recording_of(tmp_path, AFTER_A_PURE_RAISE, "__main__.STATE")
    raised = rec.exceptions()
    assert [(e.type, e.stack[0].function, e.stack[0].line) for e in raised] == [("KeyError", "get", 9)]
    changes = [c for c in rec.history("__main__.STATE") if c.kind == "modified"]
    stacks = [[(f.function, f.line) for f in c.stack if f.file.endswith("prog.py")] for c in changes]
    assert stacks == [[("f", line), ("main", 23), ("<module>", 26)] for line in (17, 18, 19)]
