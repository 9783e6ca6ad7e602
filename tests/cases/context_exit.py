# watch: __main__.OPEN


class Resource:
    def __enter__(self):
        OPEN.append(self.name)  # culprit: CALL
        return self

    def __exit__(self, *exc):
        OPEN.remove(self.name)  # culprit: CALL
        return False

    def __init__(self, name):
        self.name = name


OPEN = []  # culprit: STORE_NAME
with Resource("r1"):
    pass
