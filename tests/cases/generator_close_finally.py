# watch: __main__.CLOSED


def stream():
    try:
        yield 1
        yield 2
    finally:
        CLOSED.append("closed")  # culprit: CALL#2


CLOSED = []  # culprit: STORE_NAME
g = stream()
next(g)
g.close()
