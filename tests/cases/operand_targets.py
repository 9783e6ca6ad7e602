# watch: __main__.W
# watch: __main__.NEST
# Stores, in-place operators and iteration decided from their operands: the
# same instruction stores into an unwatched list (no comparison needed) and,
# on its last run, into a watched one, or into a list nested in a watch.
W = [0, 0, 0, 0]  # culprit: STORE_NAME
NEST = [[0], [1]]  # culprit: STORE_NAME
other = [0, 0, 0, 0]


def put(target, i, value):
    target[i] = value  # culprit: STORE_SUBSCR x2


def grow(target, items):
    target += items  # culprit: BINARY_OP x2


def cut(target):
    del target[0]  # culprit: DELETE_SUBSCR


def splice(target, items):
    target[1:3] = items  # culprit: STORE_SLICE


for i in range(4):
    put(other, i, i)
put(W, 2, 7)
inner = NEST[0]
for i in range(3):
    put(inner if i == 2 else other, 0, 9)
n = 0
for x in W:
    n += x
grow(other, (1, 2))
grow(W, (1,))
grow(NEST[1], [5])
cut(other)
cut(W)
splice(other, W)
splice(W, other)
a, b = W[0:2]
other[0:2] = [a, b]
total = 0
for x in (y for y in W):
    total += x
W[0:1] = map(other.append, [1])  # culprit: STORE_SLICE
tmp = [0, 0, 0, 0]
tmp[::2] = map(W.append, [1, 2])  # culprit: STORE_SUBSCR
W[:] = [1, 2, 3, 4]  # culprit: STORE_SLICE
buf = bytearray(4)
buf[::2] = map(W.pop, [0, 0])  # culprit: STORE_SUBSCR
buf[1] = 7
