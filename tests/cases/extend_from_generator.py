# watch: __main__.ITEMS


def produce(n):
    for i in range(n):
        yield i * i


def main():
    ITEMS.extend(produce(4))  # culprit: CALL#2 x4


ITEMS = []  # culprit: STORE_NAME
main()
