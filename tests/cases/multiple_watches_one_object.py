# watch: __main__.SHARED
# watch: __main__.ALIAS
# watch: __main__.SHARED[0]
SHARED = [0]  # culprit: STORE_NAME x2
ALIAS = SHARED  # culprit: STORE_NAME
ALIAS[0] = 1  # culprit: STORE_SUBSCR x3
ALIAS = [2]  # culprit: STORE_NAME
