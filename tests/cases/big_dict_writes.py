# watch: __main__.BIG
# watch: __main__.OBJ
# A dict too big to compare whole at each change is compared at the keys
# its last writes named (adds and replacements), and whole otherwise: a key
# stored under an equal but distinct str or int, a delete, more writes
# between two checks than are kept, a clear. Every change must still be
# exactly the one the oracle sees.
BIG = {}  # culprit: STORE_NAME
for i in range(100):
    BIG[str(i)] = i  # culprit: STORE_SUBSCR x100


def key(text):
    return "".join(list(text))  # an equal str, another object


BIG["50"] = -50  # culprit: STORE_SUBSCR
BIG[key("51")] = -51  # culprit: STORE_SUBSCR
BIG[key("51")] = -51
BIG["new"] = [1]  # culprit: STORE_SUBSCR
BIG["new"].append(2)  # culprit: CALL
BIG[key("new")] = {"inner": 1}  # culprit: STORE_SUBSCR
BIG["new"]["inner"] = 2  # culprit: STORE_SUBSCR
BIG[10**30] = "big int"  # culprit: STORE_SUBSCR
BIG[10**30 + 0] = "same int key, another object"  # culprit: STORE_SUBSCR
BIG[2.5] = "float key"  # culprit: STORE_SUBSCR
BIG[2.5] = "float key again"  # culprit: STORE_SUBSCR
del BIG["7"]  # culprit: DELETE_SUBSCR
BIG["7"] = 7  # culprit: STORE_SUBSCR
BIG.setdefault("8", 0)
BIG.setdefault("eight", 8)  # culprit: CALL
fresh = {str(i): -i for i in range(20, 40)}
BIG.update(fresh)  # culprit: CALL
BIG.update({"a": 1, "b": 2, "50": 50})  # culprit: CALL
BIG.pop("a")  # culprit: CALL
for word in "x y x z y x".split():
    BIG[word] = BIG.get(word, 0) + 1  # culprit: STORE_SUBSCR x6
BIG[True] = "true replaces nothing: a new key"  # culprit: STORE_SUBSCR
BIG[1] = "one replaces True"  # culprit: STORE_SUBSCR
BIG.clear()  # culprit: CALL
BIG["after"] = 1  # culprit: STORE_SUBSCR


class Plain:
    pass


OBJ = Plain()  # culprit: STORE_NAME
for i in range(60):
    setattr(OBJ, f"a{i}", i)  # culprit: CALL x60
OBJ.a5 = -5  # culprit: STORE_ATTR
OBJ.a5 += 1  # culprit: STORE_ATTR
del OBJ.a6  # culprit: DELETE_ATTR
OBJ.a6 = 6  # culprit: STORE_ATTR
