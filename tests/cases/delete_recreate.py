# watch: __main__.NAME
NAME = 1  # culprit: STORE_GLOBAL
del NAME  # culprit: DELETE_GLOBAL


def recreate():
    global NAME
    NAME = 2  # culprit: STORE_GLOBAL


recreate()
del globals()["NAME"]  # culprit: DELETE_SUBSCR
NAME = 3  # culprit: STORE_GLOBAL
