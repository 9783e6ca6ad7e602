# watch: __main__.CACHE
# watch: __main__.ALIVE
# A dict store that frees the value it replaces can run C code after the
# store (here a weakref callback that is a C method): the next check must
# compare everything, not only the dict. A store that frees nothing (a new
# key, an int replaced) needs only the dict compared.
import weakref


class Obj:
    pass


CACHE = {}  # culprit: STORE_NAME
ALIVE = set()  # culprit: STORE_NAME
o = Obj()
ALIVE.add(weakref.ref(o, ALIVE.discard))  # culprit: CALL#2
CACHE["k"] = o  # culprit: STORE_SUBSCR
del o
len(CACHE)
CACHE["k"] = None  # culprit: STORE_SUBSCR x2
print(len(ALIVE))
ALIVE.add(1)  # culprit: CALL
o = Obj()
ALIVE.add(weakref.ref(o, ALIVE.discard))  # culprit: CALL#2
len(CACHE)
o = None  # culprit: STORE_NAME
len(CACHE)
CACHE["n"] = 1  # culprit: STORE_SUBSCR
CACHE["n"] = 2  # culprit: STORE_SUBSCR
