from . import REGISTRY, register

register("plugin-a")
REGISTRY.insert(0, "first")  # culprit: CALL
