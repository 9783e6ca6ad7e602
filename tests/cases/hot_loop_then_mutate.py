# watch: __main__.CONFIG
# The same STORE_SUBSCR runs 200 times storing the value already there, then
# once storing a new one: a monitor that disables "quiet" locations misses it.
CONFIG = {"mode": "small"}  # culprit: STORE_NAME


def setmode(i):
    value = "big" if i == 199 else "small"
    CONFIG["mode"] = value  # culprit: STORE_SUBSCR


for i in range(200):
    setmode(i)
