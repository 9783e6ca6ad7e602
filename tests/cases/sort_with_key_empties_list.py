# watch: __main__.DATA
# list.sort empties the list while it sorts: a key function sees DATA == [].
# Both the emptying and the refill are made by the sort CALL. (partial keeps
# the culprit a plain CALL: 3.13 compiles calls with keywords to CALL_KW.)
import functools

sort_descending = functools.partial(list.sort, key=lambda x: -x)
DATA = [3, 1, 2]  # culprit: STORE_NAME
sort_descending(DATA)  # culprit: CALL x2
