# watch: __main__.DQ
# watch: __main__.BA
# watch: __main__.AR
# deque, bytearray and array.array are compared by contents; these in-place
# changes all change their length or, for bytearray, are compared exactly.
import array
import collections

DQ = collections.deque([1, 2, 3])  # culprit: STORE_NAME
DQ.appendleft(0)  # culprit: CALL
DQ.pop()  # culprit: CALL
BA = bytearray(b"abcdef")  # culprit: STORE_NAME
BA[3] = 7  # culprit: STORE_SUBSCR
BA.extend(b"xy")  # culprit: CALL
BA[0] = 97
AR = array.array("i", [1, 2])  # culprit: STORE_NAME
AR.append(3)  # culprit: CALL
