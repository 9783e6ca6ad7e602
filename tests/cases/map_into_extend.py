# watch: __main__.OUT
# list.extend pulls from map, which calls a Python lambda: each append is made
# by C code after the lambda returned, so the culprit is extend's CALL.
OUT = []  # culprit: STORE_NAME
OUT.extend(map(lambda x: x * 2, [1, 2, 3]))  # culprit: CALL#2 x3
