"""The first thing to record: who changed sys.path?

    spyrec run samples/syspath_demo.py
    spyrec query last-change sys.path
"""
import sys

print("looking for animals...")
sys.path.insert(0, "animals")
print("sys.path[0] is now", sys.path[0])
