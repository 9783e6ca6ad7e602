# watch: __main__.TABLE
TABLE = {}  # culprit: STORE_NAME


def inner(key, value):
    TABLE[key] = value  # culprit: STORE_SUBSCR x3
    return value


def middle(key):
    return inner(key, key * 2)


def outer():
    total = 0
    for k in range(3):
        total += middle(k)
    return total


outer()
