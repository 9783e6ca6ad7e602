# watch: spyrec_case_made.VALUE
# watch: spyrec_case_made.LATE
# A module made at run time appears when it is put in sys.modules; the stores
# that follow, with no call in between, are each their own change (the
# module's dict must be watched from the instruction that made it appear).
import sys
import types

MOD = types.ModuleType("spyrec_case_made")
MOD.VALUE = 0
sys.modules["spyrec_case_made"] = MOD  # culprit: STORE_SUBSCR
MOD.VALUE = 1  # culprit: STORE_ATTR
MOD.VALUE = 2  # culprit: STORE_ATTR
MOD.LATE = "a"  # culprit: STORE_ATTR
MOD.LATE = "b"  # culprit: STORE_ATTR


def store_globals():
    global VALUE, LATE
    VALUE = 3  # culprit: STORE_GLOBAL
    VALUE = 4  # culprit: STORE_GLOBAL
    LATE = "c"  # culprit: STORE_GLOBAL


types.FunctionType(store_globals.__code__, MOD.__dict__)()
