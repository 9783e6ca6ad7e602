# watch: __main__.BAG
BAG = {}  # culprit: STORE_NAME
put = lambda k, v: BAG.__setitem__(k, v)  # culprit: CALL x2
put("x", 1)
put("y", 2)
list(map(lambda k: BAG.pop(k), ["x"]))  # culprit: CALL#3
