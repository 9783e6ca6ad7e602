# watch: __main__.STACK
STACK = list(range(4))  # culprit: STORE_NAME
while STACK:
    STACK.pop()  # culprit: CALL x4
