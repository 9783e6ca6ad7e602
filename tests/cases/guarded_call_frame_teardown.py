# watch: __main__.WATCHED
import weakref
WATCHED = []  # culprit: STORE_NAME
refs = []


class Quiet:
    def __del__(self):
        pass


class Box:
    pass


def work():
    q = Quiet()
    b = Box()
    refs.append(weakref.ref(b, WATCHED.append))


def main():
    for _ in range(3):
        work()  # culprit: CALL x3


main()
