# watch: __main__.COUNTER


def make_counter():
    def incr():
        COUNTER["n"] += 1  # culprit: STORE_SUBSCR x2

    return incr


COUNTER = {"n": 0}  # culprit: STORE_NAME
inc = make_counter()
inc()
inc()
