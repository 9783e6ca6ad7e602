# watch: __main__.SEEN
# A key function whose last act is the mutation, called from C (sorted).
SEEN = []  # culprit: STORE_NAME


def key(x):
    SEEN.append(x)  # culprit: CALL x3


result = sorted([3, 1, 2], key=lambda x: (key(x), x)[1])
print(result)
