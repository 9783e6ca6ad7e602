# watch: __main__.LOG
# Two threads mutate in a fixed order, handed over with Events.
import threading

LOG = []  # culprit: STORE_NAME
first_done = threading.Event()


def first():
    LOG.append("first")  # culprit: CALL
    first_done.set()


def second():
    first_done.wait()
    LOG.append("second")  # culprit: CALL


b = threading.Thread(target=second, name="second")
a = threading.Thread(target=first, name="first")
b.start()
a.start()
a.join()
b.join()
