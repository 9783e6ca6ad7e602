# watch: __main__.DATA
DATA = [0, 1, 2, 3, 4]  # culprit: STORE_NAME
DATA[1:3] = ["a"]  # culprit: STORE_SLICE
del DATA[:1]  # culprit: DELETE_SUBSCR
DATA[:] = []  # culprit: STORE_SLICE
