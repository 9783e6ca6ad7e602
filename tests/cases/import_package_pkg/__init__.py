REGISTRY = []  # culprit: STORE_NAME


def register(name):
    REGISTRY.append(name)  # culprit: CALL x2


from . import plugins  # noqa: E402,F401
