# watch: __main__.OBJECTS
import json

OBJECTS = []  # culprit: STORE_NAME


def hook(d):
    OBJECTS.append(sorted(d))  # culprit: CALL#2 x2
    return d


json.loads('{"a": {"b": 1}, "c": 2}', object_hook=hook)
