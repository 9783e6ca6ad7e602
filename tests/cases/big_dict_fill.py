# watch: __main__.BIG
# 3000 one-key inserts: 3000 changes, each blamed on its STORE_SUBSCR.
BIG = {}  # culprit: STORE_NAME
for i in range(3000):
    BIG[i] = "x" * 20  # culprit: STORE_SUBSCR x3000
