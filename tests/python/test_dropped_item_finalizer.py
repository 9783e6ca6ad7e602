"""An item a watched list dropped is freed by spyrec's picture, later than
the program would have freed it, inside spyrec's callback where no event
fires (docs/exactness.md, "Limits"). What its `__del__` changes is compared
again right away and recorded as its own change, blamed on the instruction
that dropped the item (where the program ran the `__del__`)."""

from _programs import recorded_history

PROGRAM = """\
BIG = list(range(200))


class Noisy:
    def __del__(self):
        BIG[0] = "from __del__"


BIG[8] = Noisy()
BIG[8] = 8
BIG.append(200)
BIG.append(201)
"""


def test_a_finalizer_change_is_seen_at_the_next_check(tmp_path):
    changes = recorded_history(tmp_path, PROGRAM, "__main__.BIG")
    assert [c.line for c in changes[1:]] == [9, 10, 10, 11, 12]
    assert changes[2].after[8] == 8 and changes[2].after[0] == 0
    assert changes[3].after[0] == "from __del__"
    assert changes[4].after[-1] == 200
    assert changes[-1].after == changes[-2].after + [201]
