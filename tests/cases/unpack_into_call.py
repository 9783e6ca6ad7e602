# watch: __main__.SINK
# CALL_FUNCTION_EX builds its argument tuple before the CALL event fires: C
# code run by that unpacking (map calling SINK.append) is the call
# instruction's, even when the callee itself is clean (print to a sink).
import io

SINK = []  # culprit: STORE_NAME
out = io.StringIO()
args = map(SINK.append, range(2))
print(*args, file=out)  # culprit: CALL_FUNCTION_EX
n = len(SINK)
