# watch: __main__.DATA
DATA = []  # culprit: STORE_NAME
DATA.append(1)  # culprit: CALL
print("hello")
