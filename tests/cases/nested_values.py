# watch: __main__.STATE
# watch: __main__.STATE[0]['host']
STATE = [{"host": "a", "ports": [1]}]  # culprit: STORE_NAME


def retarget():
    STATE[0]["host"] = "b"  # culprit: STORE_SUBSCR
    STATE[0]["ports"].append(2)  # culprit: CALL


retarget()
