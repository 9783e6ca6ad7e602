# watch: __main__.BOTTOM
import sys

sys.setrecursionlimit(5000)
BOTTOM = []  # culprit: STORE_NAME


def dive(n):
    if n == 0:
        BOTTOM.append("reached")  # culprit: CALL
        return 0
    return 1 + dive(n - 1)


dive(600)
