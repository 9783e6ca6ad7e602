# watch: __main__.ACC
ACC = []  # culprit: STORE_NAME


def fill():
    [ACC.append(i) for i in range(2)]  # culprit: CALL
    {i: ACC.append(-i) for i in range(1, 2)}  # culprit: CALL
    return sum(ACC.append(i) or i for i in range(2))  # culprit: CALL


fill()
