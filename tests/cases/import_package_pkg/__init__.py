REGISTRY = []  # culprit: STORE_NAME


def register(name):
    REGISTRY.append(name)  # culprit: CALL


from . import plugins  # noqa: E402,F401
