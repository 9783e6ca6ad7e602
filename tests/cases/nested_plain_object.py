# watch: __main__.CONFIG
# A plain object inside a watched value is compared by identity: changing its
# attributes is not a change of CONFIG; putting another object there is.


class Plain:
    pass


CONFIG = {"obj": Plain()}  # culprit: STORE_NAME
CONFIG["obj"].x = 1
setattr(CONFIG["obj"], "y", 2)
CONFIG["obj"] = Plain()  # culprit: STORE_SUBSCR
