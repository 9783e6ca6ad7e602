# watch: __main__.LOG
# A FOR_ITER whose iterator is always a builtin container's or range's keeps
# no event once seen (recorder/call_guards.h, "Loops"). When the global that
# made its iterable comes to make something else (a global shadowing the
# builtin, or the code run with other globals), its event comes back before
# the next step: a step that changes a value from C is still the culprit.
import functools
import types

LOG = []  # culprit: STORE_NAME


def appending(n):
    # Each step of this iterator calls LOG.append from C (no Python frame).
    return iter(functools.partial(LOG.append, n), None)


def count(n):
    for i in range(n):  # culprit: FOR_ITER
        pass


def count_other(n):
    for i in range(n):  # culprit: FOR_ITER
        pass


def over_built(a, b):
    for x in a, b:
        LOG.append(x)  # culprit: CALL x6


for _ in [1, 2, 3]:
    count(2)
    over_built(1, 2)
range = appending
count(1)
del range

for _ in [1, 2, 3]:
    count_other(2)
elsewhere = types.FunctionType(count_other.__code__, {"range": appending, "__builtins__": __builtins__})
elsewhere(2)
