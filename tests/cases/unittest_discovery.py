# watch: sys.path
# watch: __main__.RESULTS
# culprit-elsewhere: loader.py TestLoader.discover CALL
# Real stdlib code: discovery puts the start dir on sys.path, imports the
# test module (which records itself) and the runner runs its test.
import io
import os
import unittest

RESULTS = []  # culprit: STORE_NAME
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unittest_discovery_pkg")
suite = unittest.defaultTestLoader.discover(here, pattern="check_*.py")
unittest.TextTestRunner(stream=io.StringIO()).run(suite)
