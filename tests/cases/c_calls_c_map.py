# watch: __main__.SINK
# map calls the C method SINK.append from C: no Python frame in between, so
# the three appends are one change, blamed on the CALL of list().
SINK = []  # culprit: STORE_NAME
list(map(SINK.append, range(3)))  # culprit: CALL#3
