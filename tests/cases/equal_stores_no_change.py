# watch: __main__.DATA
# Stores of the value already there are not changes.
DATA = [1, "x", None]  # culprit: STORE_NAME
DATA[0] = 1
DATA[1] = "x"
DATA[2:] = [None]
DATA[2] = False  # culprit: STORE_SUBSCR
