# watch: __main__.DEAD
# A C callback (DEAD.append) runs inside the DELETE_NAME that frees the object;
# a Python callback's own instruction is its culprit.
import weakref


class Thing:
    pass


def on_dead(ref):
    DEAD.append("python-callback")  # culprit: CALL


DEAD = []  # culprit: STORE_NAME
a = Thing()
ra = weakref.ref(a, DEAD.append)
del a  # culprit: DELETE_NAME
b = Thing()
rb = weakref.ref(b, on_dead)
del b
