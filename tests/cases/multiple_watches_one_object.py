# watch: __main__.SHARED
# watch: __main__.ALIAS
# watch: __main__.SHARED[0]
SHARED = [0]  # culprit: STORE_NAME
ALIAS = SHARED  # culprit: STORE_NAME
ALIAS[0] = 1  # culprit: STORE_SUBSCR
ALIAS = [2]  # culprit: STORE_NAME
