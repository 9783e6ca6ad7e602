# watch: __main__.COUNT
# watch: __main__.DATA
COUNT = 0  # culprit: STORE_GLOBAL
DATA = [1]  # culprit: STORE_NAME
COUNT += 1  # culprit: STORE_GLOBAL
DATA += [2]  # culprit: BINARY_OP
DATA *= 2  # culprit: BINARY_OP


def bump():
    global COUNT
    COUNT += 5  # culprit: STORE_GLOBAL


bump()
