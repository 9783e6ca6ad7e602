"""Values the benchmarks watch on top of spyrec's defaults (not changed by any workload).

bench/run.py puts this folder on PYTHONPATH; sitecustomize.py imports this
module at start-up in every mode, so every watch is resolved from the first
instruction and plain python pays the same import. WATCHES is the list of
expressions the "+10 watches" mode and the peers watch.
"""


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.history = [("open", balance)]
        self.tags = {"tier": "gold", "region": "eu"}


LIST_A = list(range(32))
LIST_B = ["alpha", "beta", "gamma", "delta"] * 8
LIST_NESTED = [[i, i * 2, [i * 3]] for i in range(16)]
DICT_A = {f"key{i}": i for i in range(32)}
DICT_B = {"host": "localhost", "port": 5432, "retries": 3, "debug": False}
DICT_NESTED = {"users": {"ann": [1, 2, 3], "bob": [4, 5]}, "limits": {"cpu": 2, "mem": 512}}
CONFIG = {"db": {"host": "db.local", "pool": [1, 2, 3, 4]}, "cache": {"ttl": 60}}
COUNTERS = {"hits": 0, "misses": 0, "evictions": 0}
OBJ = Account("ann", 100)

# The ten extra watches: lists, dicts, an object, an attribute of it and a subscript.
WATCHES = [
    "watched_state.LIST_A",
    "watched_state.LIST_B",
    "watched_state.LIST_NESTED",
    "watched_state.DICT_A",
    "watched_state.DICT_B",
    "watched_state.DICT_NESTED",
    "watched_state.CONFIG['db']",
    "watched_state.COUNTERS",
    "watched_state.OBJ",
    "watched_state.OBJ.history",
]
