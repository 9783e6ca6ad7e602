# watch: __main__.DATA
# watch: __main__.CONFIG
DATA = [1, 2, 3]  # culprit: STORE_NAME
CONFIG = {"a": 1, "b": 2}  # culprit: STORE_NAME
del DATA[0]  # culprit: DELETE_SUBSCR


def drop(key):
    del CONFIG[key]  # culprit: DELETE_SUBSCR


drop("a")
