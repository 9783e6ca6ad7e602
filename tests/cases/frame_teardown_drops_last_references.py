# watch: __main__.WATCHED
# A frame's teardown drops every reference the frame holds. An object held
# twice by the same frame (a local and its alias) is freed there though each
# slot alone shows two references; so is a code object the running function
# no longer holds (its __code__ was replaced while it ran). Each one's C
# weakref callback (WATCHED.append) runs after the return, before the
# caller's next instruction: the caller's CALL is the culprit.
import weakref

WATCHED = []  # culprit: STORE_NAME
REFS = []


class Box:
    pass


def aliased():
    box = Box()
    alias = box
    REFS.append(weakref.ref(alias, WATCHED.append))
    return 0


def template():
    scratch = []
    scratch.append(1)
    swapped.__code__ = plain.__code__
    return 0


def plain():
    return 0


def main():
    for _ in range(3):
        aliased()  # culprit: CALL x3


main()
swapped = type(template)(template.__code__.replace(), globals())
REFS.append(weakref.ref(swapped.__code__, WATCHED.append))
swapped()  # culprit: CALL
