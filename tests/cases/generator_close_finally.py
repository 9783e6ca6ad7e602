# watch: __main__.CLOSED


def stream():
    try:
        yield 1
        yield 2
    finally:
        CLOSED.append("closed")  # culprit: CALL


CLOSED = []  # culprit: STORE_NAME
g = stream()
next(g)
g.close()
