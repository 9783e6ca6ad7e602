# watch: __main__.BIG
# Lists are compared whatever their size: changes past index 1000 count.
BIG = list(range(5000))  # culprit: STORE_NAME
BIG[1000] = -2  # culprit: STORE_SUBSCR
BIG[4000] = -3  # culprit: STORE_SUBSCR
BIG.append(1)  # culprit: CALL
BIG[4999] = 4999
