# watch: __main__.ERRORS


def worker():
    while True:
        try:
            yield
        except KeyError as e:
            ERRORS.append(str(e))  # culprit: CALL#2 x2


ERRORS = []  # culprit: STORE_NAME
w = worker()
next(w)
w.throw(KeyError("k1"))
w.throw(KeyError("k2"))
