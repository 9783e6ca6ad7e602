# watch: __main__.BIG
# watch: __main__.COUNT
# A module-level loop writes the module's dict at each step (its loop
# variable, a counter): the dict watcher's check then compares what the
# thread's last instruction could change, not every watched list whole. A
# change made just before such a write by a call must still be blamed on
# the call, and the counter's own changes on their stores.
BIG = list(range(100))  # culprit: STORE_NAME
COUNT = 0  # culprit: STORE_NAME
for i in range(1, 4):
    BIG[i] = -i  # culprit: STORE_SUBSCR x3
    COUNT = i  # culprit: STORE_NAME x3
BIG.sort()  # culprit: CALL
step = 1
BIG.reverse()  # culprit: CALL
step = 2
BIG.append(100)  # culprit: CALL
step = 3
BIG.extend(range(3))  # culprit: CALL#2
COUNT += 10  # culprit: STORE_NAME
for j in range(3):
    pass
COUNT = len(BIG)  # culprit: STORE_NAME
