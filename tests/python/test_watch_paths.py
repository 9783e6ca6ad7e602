"""A watch's path is resolved again only when a probe on it fired, or when
it went through a place no probe covers (recorder/watch.h, path_exact_).
An object's replaced `__dict__` is such a place: spyrec sees the swap at the
next check of the watch (docs/exactness.md, "Limits"), and from then on
follows the new dict's value."""

from _programs import recorded_history

PROGRAM = """\
class Holder:
    pass


HOLDER = Holder()
HOLDER.data = [1]
HOLDER.data.append(2)
HOLDER.__dict__ = {"data": [3]}
HOLDER.data.append(4)
HOLDER.data.append(5)
"""


def test_a_replaced_dict_on_the_path_is_followed_to_the_new_value(tmp_path):
    changes = recorded_history(tmp_path, PROGRAM, "__main__.HOLDER.data")
    assert [c.kind for c in changes] == ["appeared", "rebound", "modified", "modified"]
    assert [c.after for c in changes[-2:]] == [[3, 4], [3, 4, 5]]
    assert [c.line for c in changes[-2:]] == [9, 10]
