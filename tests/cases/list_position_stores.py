# watch: __main__.BIG
# watch: __main__.GRID
# A store by index into a long list, and an append, are checked at the one
# position they can change. Each way that position can be wrong must still
# give exactly the oracle's changes: a negative index, an index past the end
# (IndexError, no change), an equal value, a bool or computed index, the
# same list at two places, stores in a loop.
BIG = list(range(200))  # culprit: STORE_NAME
BIG[5] = -5  # culprit: STORE_SUBSCR
BIG[-1] = "last"  # culprit: STORE_SUBSCR
BIG[-200] = "first"  # culprit: STORE_SUBSCR
try:
    BIG[200] = "past the end"
except IndexError:
    pass
try:
    BIG[-201] = "before the start"
except IndexError:
    pass
BIG[6] = 6
BIG[7] = 7.0  # culprit: STORE_SUBSCR
BIG.append(200)  # culprit: CALL
list.append(BIG, 201)  # culprit: CALL
for i in range(10, 20):
    BIG[i] = BIG[i] * 10  # culprit: STORE_SUBSCR x10
for i in range(3):
    BIG.append(i)  # culprit: CALL x3
BIG[True] = "index True"  # culprit: STORE_SUBSCR
BIG[10**20 - 10**20 + 3] = "computed index"  # culprit: STORE_SUBSCR

ROW = [0] * 100
GRID = [ROW, list(range(100)), ROW]  # culprit: STORE_NAME
GRID[0][50] = 1  # culprit: STORE_SUBSCR
GRID[1][99] = -1  # culprit: STORE_SUBSCR
GRID[1].append(100)  # culprit: CALL
GRID[2][0] = 2  # culprit: STORE_SUBSCR
GRID[1] = ROW  # culprit: STORE_SUBSCR
ROW[1] = 3  # culprit: STORE_SUBSCR
