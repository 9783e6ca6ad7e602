# Recorded by run.sh to make fuzz seeds: changes to values of every kind the
# snapshot knows (containers, scalars, objects, cycles, truncation, depth).
import sys

class Config:
    def __init__(self):
        self.name = "a"
        self.items = [1, 2.5, None]

STATE = {"n": 0}
STATE["list"] = [1, 2, 3]
STATE["list"].insert(0, "animals")
STATE["tuple"] = (True, b"\x00bytes", 2**80, -1.5e300, float("nan"))
STATE["set"] = {1, "x"}
STATE["frozen"] = frozenset({3.0})
STATE["obj"] = Config()
STATE["obj"].name = "b"
STATE["big"] = list(range(5000))
STATE["big"][2500] = "changed"
STATE["text"] = "é" * 300
STATE["cycle"] = []
STATE["cycle"].append(STATE["cycle"])
deep = STATE
for i in range(10):
    deep["d"] = {}
    deep = deep["d"]
del STATE["n"]
sys.path.insert(0, "animals")
try:
    raise ValueError("seed")
except ValueError:
    pass
