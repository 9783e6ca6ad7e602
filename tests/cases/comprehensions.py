# watch: __main__.ACC
ACC = []  # culprit: STORE_NAME


def fill():
    [ACC.append(i) for i in range(2)]  # culprit: CALL#2 x2
    {i: ACC.append(-i) for i in range(1, 2)}  # culprit: CALL#2
    return sum(ACC.append(i) or i for i in range(2))  # culprit: CALL#4 x2


fill()
