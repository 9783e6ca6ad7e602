# watch: __main__.FREED


class Node:
    def __init__(self, name):
        self.name = name

    def __del__(self):
        FREED.append(self.name)  # culprit: CALL


FREED = []  # culprit: STORE_NAME
node = Node("n1")
del node
