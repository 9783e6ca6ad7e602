# watch: __main__.CFG
CFG = {"a": 1}  # culprit: STORE_NAME
CFG.update({"b": 2})  # culprit: CALL
CFG.setdefault("c", 3)  # culprit: CALL
CFG.setdefault("c", 4)
CFG.pop("a")  # culprit: CALL
CFG.popitem()  # culprit: CALL
CFG.clear()  # culprit: CALL
