# watch: __main__.BOX
# culprit-elsewhere: <string> <module> CALL
# culprit-elsewhere: <string> <module> STORE_SUBSCR
BOX = []  # culprit: STORE_NAME
exec("BOX.append(1)")
eval("BOX.append(2)")
exec("BOX[0] = 10")
