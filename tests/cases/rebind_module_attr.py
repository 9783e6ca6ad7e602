# watch: __main__.SETTING
# watch: json.SPYREC_FLAG
import json
import sys

SETTING = "a"  # culprit: STORE_GLOBAL


def rebind():
    global SETTING
    SETTING = "b"  # culprit: STORE_GLOBAL


rebind()
sys.modules[__name__].SETTING = "c"  # culprit: STORE_ATTR
setattr(sys.modules[__name__], "SETTING", "d")  # culprit: CALL
json.SPYREC_FLAG = 1  # culprit: STORE_ATTR
del json.SPYREC_FLAG  # culprit: DELETE_ATTR
