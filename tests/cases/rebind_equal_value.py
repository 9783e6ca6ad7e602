# watch: __main__.X
# watch: __main__.N
# Rebinding to another mutable object with equal contents is a change
# ("rebound"); rebinding to an equal immutable value is not.
X = [1, 2]  # culprit: STORE_NAME
X = [1, 2]  # culprit: STORE_NAME
X.append(3)  # culprit: CALL
N = 5  # culprit: STORE_NAME
N = 5
N = 2 + 3
