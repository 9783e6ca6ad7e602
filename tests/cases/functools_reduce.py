# watch: __main__.SEEN
import functools

SEEN = []  # culprit: STORE_NAME


def add(acc, x):
    SEEN.append(x)  # culprit: CALL x2
    return acc + x


functools.reduce(add, [1, 2, 3])
