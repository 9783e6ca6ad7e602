# watch: __main__.TRACE
TRACE = []  # culprit: STORE_NAME


def risky(fail):
    try:
        if fail:
            raise ValueError("boom")
    except ValueError:
        TRACE.append("except")  # culprit: CALL
    finally:
        TRACE.append("finally")  # culprit: CALL#1 x2


risky(True)
risky(False)
