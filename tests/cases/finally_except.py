# watch: __main__.TRACE
TRACE = []  # culprit: STORE_NAME


def risky(fail):
    try:
        if fail:
            raise ValueError("boom")
    except ValueError:
        TRACE.append("except")  # culprit: CALL
    finally:
        TRACE.append("finally")  # culprit: CALL


risky(True)
risky(False)
