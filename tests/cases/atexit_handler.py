# watch: __main__.LOG
import atexit

LOG = []  # culprit: STORE_NAME


def at_exit():
    LOG.append("bye")  # culprit: CALL


atexit.register(at_exit)
LOG.append("main")  # culprit: CALL
