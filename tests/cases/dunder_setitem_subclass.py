# watch: __main__.REG


class Registry(dict):
    def __setitem__(self, key, value):
        super().__setitem__(key, value)  # culprit: CALL


REG = Registry()  # culprit: STORE_NAME
REG["a"] = 1
REG.update({"b": 2})  # culprit: CALL
