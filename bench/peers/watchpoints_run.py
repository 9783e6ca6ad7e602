"""Run a script under the `watchpoints` package (PyPI), watching the bench's values.

    python watchpoints_run.py script.py [args...]

watchpoints finds what to watch by reading the source of its call, so the
expressions are written out below, not taken from the command line: spyrec's
four default watches plus watched_state.WATCHES (the "+10 watches" set).
Changes are counted by a callback, not printed.
"""

import os
import runpy
import sys

import watched_state
from watchpoints import watch

changes = []


def main(argv):
    sys.argv[:] = argv
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    watch.config(callback=lambda frame, elem, exec_info: changes.append(exec_info))
    watch(
        sys.path,
        sys.meta_path,
        sys.path_hooks,
        os.environ,
        watched_state.LIST_A,
        watched_state.LIST_B,
        watched_state.LIST_NESTED,
        watched_state.DICT_A,
        watched_state.DICT_B,
        watched_state.DICT_NESTED,
        watched_state.CONFIG["db"],
        watched_state.COUNTERS,
        watched_state.OBJ,
        watched_state.OBJ.history,
    )
    try:
        runpy.run_path(argv[0], run_name="__main__")
    finally:
        watch.unwatch()
        sys.stderr.write(f"watchpoints_run: {len(changes)} changes\n")


if __name__ == "__main__":
    main(sys.argv[1:])
