# watch: __main__.LOG
# A FOR_ITER whose iterator is always a constant's or a range's keeps no
# event once seen (recorder/call_guards.h, "Loops"). When the global that
# made its iterable comes to make something else (a global shadowing the
# builtin, the code run with other globals), its event comes back before the
# next step, so a step that changes a value from C is still the culprit. A
# frame that made its iterator before the decision (a suspended generator, a
# caller of the same code) keeps the loop from being guarded at all. Each
# part runs before `range` is rebound in this module for good.
import functools
import types

LOG = []  # culprit: STORE_NAME


def appending(n):
    # Each step of this iterator calls LOG.append from C (no Python frame).
    return iter(functools.partial(LOG.append, n), None)


def gen(items):
    for i in range(items):  # culprit: FOR_ITER x2
        yield i


def walk(items, outer):
    for i in range(items):  # culprit: FOR_ITER x2
        if outer:
            outer = False
            del globals()["range"]
            walk(2, False)


def count(n):
    for i in range(n):  # culprit: FOR_ITER
        pass


def count_other(n):
    for i in range(n):  # culprit: FOR_ITER
        pass


def over_constant():
    for x in (1, 2):
        LOG.append(x)  # culprit: CALL x6


# A generator suspended in a loop over map(LOG.append, ...) while the same
# loop in another generator sees the builtin range.
range = functools.partial(map, LOG.append)
suspended = gen([1, 2])
next(suspended)
del range
for _ in gen(3):
    pass
next(suspended)

# A caller in the same loop while its callee, the same code, sees range.
range = functools.partial(map, LOG.append)
walk([1, 2], True)

for _ in [1, 2, 3]:
    count_other(2)
    over_constant()
elsewhere = types.FunctionType(count_other.__code__, {"range": appending, "__builtins__": __builtins__})
elsewhere(2)

for _ in [1, 2, 3]:
    count(2)
range = appending
count(1)
del range
