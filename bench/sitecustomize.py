# Benchmark start-up hook (bench/ is on PYTHONPATH only in bench/run.py's children):
# import the watched values so that every mode, plain python included, has them.
import watched_state  # noqa: F401
