# watch: __main__.GONE
# A local dies when its frame is torn down after RETURN: the weakref's C
# callback (GONE.append) runs when the innermost frame is already the caller,
# so the caller's CALL is the culprit (also when the caller is C: map).
import weakref


class Token:
    pass


def keyfunc(x):
    t = Token()
    REFS.append(weakref.ref(t, GONE.append))
    return x


GONE = []  # culprit: STORE_NAME
REFS = []


def main():
    keyfunc(0)  # culprit: CALL


main()
list(map(keyfunc, [1, 2]))  # culprit: CALL#2 x2
