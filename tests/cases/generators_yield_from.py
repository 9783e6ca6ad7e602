# watch: __main__.STATE


def inner():
    STATE["inner"] = 1  # culprit: STORE_SUBSCR
    yield "x"
    STATE["inner"] = 2  # culprit: STORE_SUBSCR
    yield "y"


def outer():
    STATE["outer"] = 1  # culprit: STORE_SUBSCR
    yield from inner()
    STATE["outer"] = 2  # culprit: STORE_SUBSCR


STATE = {}  # culprit: STORE_NAME
for value in outer():
    STATE[value] = True  # culprit: STORE_SUBSCR x2
