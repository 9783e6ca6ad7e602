# watch: __main__.STATE
# watch: __main__.STATE[0]['host']
STATE = [{"host": "a", "ports": [1]}]  # culprit: STORE_NAME x2


def retarget():
    STATE[0]["host"] = "b"  # culprit: STORE_SUBSCR x2
    STATE[0]["ports"].append(2)  # culprit: CALL


retarget()
