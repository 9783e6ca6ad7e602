# watch: os.environ
# watch: os.environ['SPYREC_CASE_X']
# culprit-elsewhere: os.py _Environ.__setitem__ STORE_SUBSCR
# culprit-elsewhere: os.py _Environ.__delitem__ DELETE_SUBSCR
# os.environ's mapping is changed inside os.py; the user's line is in the stack.
import os


def configure():
    os.environ["SPYREC_CASE_X"] = "1"


configure()
os.environ.pop("SPYREC_CASE_X")
