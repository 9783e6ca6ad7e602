# watch: __main__.Config.level


class Config:  # culprit: STORE_NAME#1
    level = 1


def raise_level():
    Config.level = 3  # culprit: STORE_ATTR


raise_level()
type.__setattr__(Config, "level", 4)  # culprit: CALL
