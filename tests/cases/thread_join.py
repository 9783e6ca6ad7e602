# watch: __main__.RESULTS
# A worker mutates while the main thread waits in join().
import threading

RESULTS = []  # culprit: STORE_NAME


def work():
    for i in range(3):
        RESULTS.append(i)  # culprit: CALL x3


t = threading.Thread(target=work, name="worker")
t.start()
t.join()
RESULTS.append("main")  # culprit: CALL
