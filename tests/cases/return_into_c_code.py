# watch: __main__.WATCHED
# A Python function called from C returns into that C code, which may change
# a watched value before any event (extend appends each item map yields);
# the function's frame frees nothing, so only its caller's kind tells:
# the entry frame of the C stack. Each append is blamed on the extend call.
# A return straight into Python code leaves no check to do.
WATCHED = []  # culprit: STORE_NAME


def bump(x):
    n = x
    n += 1
    return n


def main():
    total = bump(1) + bump(2)
    WATCHED.extend(map(bump, [total, 2, 3]))  # culprit: CALL#2 x3
    sorted([3, 1, 2], key=bump)
    WATCHED.append(bump(4))  # culprit: CALL#2


main()
