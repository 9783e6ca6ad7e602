# watch: __main__.HITS
import re

HITS = {}  # culprit: STORE_NAME


def repl(match):
    HITS[match.group(0)] = len(HITS)  # culprit: STORE_SUBSCR x3
    return match.group(0).upper()


print(re.sub(r"[a-c]", repl, "xaybzc"))
