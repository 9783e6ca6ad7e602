# watch: __main__.MODE
# Rebinding a module attribute from a worker thread.
import threading

MODE = "idle"  # culprit: STORE_GLOBAL


def flip():
    global MODE
    MODE = "busy"  # culprit: STORE_GLOBAL


t = threading.Thread(target=flip, name="flipper")
t.start()
t.join()
MODE = "done"  # culprit: STORE_GLOBAL
