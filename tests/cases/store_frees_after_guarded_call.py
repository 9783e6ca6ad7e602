# watch: __main__.GONE
# watch: __main__.OBJ
# An attribute store that drops the last reference to a Token runs the
# Token's C weakref callback (GONE.append) when the store finishes: the
# store is the culprit of that change too, though GONE does not depend on
# the dict stored into. Right before it, a guarded call (rule 8: no CALL
# event) returned quietly (rule 3), so the shadow stack still named the
# instruction before that call: the dict watcher names the store itself.
import weakref

GONE = []  # culprit: STORE_NAME
REFS = []


class Holder:
    pass


class Token:
    pass


OBJ = Holder()  # culprit: STORE_NAME


def compute():
    n = 1
    n += 1
    return n


def main():
    for _ in range(3):
        OBJ.item = Token()  # culprit: STORE_ATTR x3
        REFS.append(weakref.ref(OBJ.item, GONE.append))
        compute()
        OBJ.item = None  # culprit: STORE_ATTR x6


main()
