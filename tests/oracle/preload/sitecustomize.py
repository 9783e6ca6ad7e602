"""For exactness cases with `# preload: MODULE`: import those modules before
the program starts, under the oracle and under spyrec alike, so a watch on
them resolves at start in both. Which modules a monitor's own start-up
imports differs (3.13's threading imports warnings; spyrec run imports
little), and a case about what the program does should not depend on it."""

import importlib
import os

for _name in filter(None, os.environ.get("SPYREC_CORPUS_PRELOAD", "").split(",")):
    importlib.import_module(_name)
