# watch: __main__.STEPS
STEPS = []  # culprit: STORE_NAME


def fails():
    STEPS.append("before")  # culprit: CALL
    raise RuntimeError("x")


def caller():
    try:
        fails()
    except RuntimeError:
        STEPS.pop()  # culprit: CALL


caller()
