# watch: __main__.OBJ
# watch: __main__.OBJ.x


class Plain:
    def __init__(self):
        self.x = 0


OBJ = Plain()  # culprit: STORE_NAME x2
OBJ.x = 1  # culprit: STORE_ATTR x2
setattr(OBJ, "y", 2)  # culprit: CALL
OBJ.__dict__.update({"z": 3, "x": 4})  # culprit: CALL x2
del OBJ.y  # culprit: DELETE_ATTR
