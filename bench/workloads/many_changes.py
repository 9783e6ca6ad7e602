"""bench/storage.py's program: N small changes to a watched value.

spyrec run -w change_box.BOX many_changes.py [N]     (N default 1,000,000)
"""

import sys

import change_box


def main(n):
    box = change_box.BOX
    for i in range(1, n + 1):
        box[0] = i  # one STORE_SUBSCR, one change of change_box.BOX


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
