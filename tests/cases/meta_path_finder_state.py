# watch: sys.meta_path
# A finder inside sys.meta_path is compared by identity: the finder updating
# its own attributes (as import machinery asks it) is not a change of
# sys.meta_path; putting a finder in, replacing it and taking it out are.
import sys


class CountingFinder:
    def __init__(self):
        self.asked = []

    def find_spec(self, name, path=None, target=None):
        self.asked.append(name)
        self.last = name
        return None


FINDER = CountingFinder()
SECOND = CountingFinder()
sys.meta_path.insert(0, FINDER)  # culprit: CALL
try:
    import spyrec_case_no_such_module  # noqa: F401
except ImportError:
    pass
FINDER.hits = len(FINDER.asked)
sys.meta_path[0] = SECOND  # culprit: STORE_SUBSCR
sys.meta_path.remove(SECOND)  # culprit: CALL
