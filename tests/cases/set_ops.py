# watch: __main__.TAGS
TAGS = {"a"}  # culprit: STORE_NAME
TAGS.add("b")  # culprit: CALL
TAGS.add("b")
TAGS.discard("a")  # culprit: CALL
TAGS |= {"c", "d"}  # culprit: BINARY_OP
TAGS -= {"d"}  # culprit: BINARY_OP
