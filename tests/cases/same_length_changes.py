# watch: __main__.DATA
DATA = [3, 1, 2]  # culprit: STORE_NAME
DATA[0] = 7  # culprit: STORE_SUBSCR
DATA.sort()  # culprit: CALL
DATA.reverse()  # culprit: CALL
DATA[1] = DATA[1]
