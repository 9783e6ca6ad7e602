# watch: __main__.BOX
# watch: __main__.CFG['items']
# watch: __main__.ROWS[1]
# watch: fakemod.DATA
# A change inside a watched value is found without resolving the watch's
# path again while no probe on that path fired. Each path here is rebound
# between such changes; the old object's changes are no longer the watch's.
import sys
import types

BOX = [0]  # culprit: STORE_NAME
CFG = {"items": [1]}  # culprit: STORE_NAME
ROWS = [[0], [10]]  # culprit: STORE_NAME

old_box = BOX
BOX[0] = 1  # culprit: STORE_SUBSCR
BOX = [5]  # culprit: STORE_NAME
old_box[0] = 2
BOX[0] = 6  # culprit: STORE_SUBSCR

old_items = CFG["items"]
CFG["items"].append(2)  # culprit: CALL
CFG["items"] = [7]  # culprit: STORE_SUBSCR
old_items.append(3)
CFG["items"].append(8)  # culprit: CALL

old_row = ROWS[1]
ROWS[1].append(11)  # culprit: CALL
ROWS.insert(0, [99])  # culprit: CALL
old_row.append(12)
ROWS[1].append(1)  # culprit: CALL

first = types.ModuleType("fakemod")
first.DATA = [1]
sys.modules["fakemod"] = first  # culprit: STORE_SUBSCR
first.DATA.append(2)  # culprit: CALL
second = types.ModuleType("fakemod")
second.DATA = [3]
sys.modules["fakemod"] = second  # culprit: STORE_SUBSCR
first.DATA.append(4)
second.DATA.append(5)  # culprit: CALL

