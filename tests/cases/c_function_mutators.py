# watch: __main__.HEAP
# watch: __main__.SORTED
# C functions (heapq, bisect) mutate: the culprit is the CALL that called them.
import bisect
import heapq

HEAP = []  # culprit: STORE_NAME
SORTED = [1, 5]  # culprit: STORE_NAME
heapq.heappush(HEAP, 3)  # culprit: CALL
heapq.heappush(HEAP, 1)  # culprit: CALL
bisect.insort(SORTED, 3)  # culprit: CALL
heapq.heappop(HEAP)  # culprit: CALL
