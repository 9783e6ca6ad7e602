# watch: __main__.DEEP
# Containers are compared all the way down: a change ten levels deep counts.
DEEP = [[[[[[[[[[0]]]]]]]]]]  # culprit: STORE_NAME
DEEP[0][0][0][0][0][0][0][0][0][0] = 1  # culprit: STORE_SUBSCR
DEEP[0][0][0][0][0][0][0][0][0].append({"k": [2]})  # culprit: CALL
DEEP[0][0][0][0][0][0][0][0][0][1]["k"][0] = 3  # culprit: STORE_SUBSCR
