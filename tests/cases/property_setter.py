# watch: __main__.THING


class Thing:
    def __init__(self):
        self._v = 0

    @property
    def v(self):
        return self._v

    @v.setter
    def v(self, value):
        self._v = value  # culprit: STORE_ATTR


THING = Thing()  # culprit: STORE_NAME
THING.v = 5
THING.v = 5
