# watch: __main__.LOG
# A CALL whose callable is a global Python function or an allow-listed
# builtin keeps no event once seen (recorder/call_guards.h). When the name
# comes to call something that can mutate (rebound, shadowed by a global,
# replaced in builtins) or the code runs with other globals, the events come
# back before that call runs, so the culprit is still the CALL. Each part
# uses names of its own: a name that changed once is never guarded again.
import builtins
import types

LOG = []  # culprit: STORE_NAME


def quiet(x):
    return x


def call(x):
    hook(x)  # culprit: CALL


def size(x):
    return len(x)  # culprit: CALL


def code_point(x):
    return ord(x)  # culprit: CALL


def call_other(x):
    other_hook(x)  # culprit: CALL


def gen_calls():
    while True:
        x = yield
        gen_hook(x)  # culprit: CALL


def relay(x, depth):
    insert_hook(x, relay_args(depth))  # culprit: CALL#2


def relay_args(depth):
    # Rebinds the name the caller's frame has loaded already, then decides
    # the guard in a new frame of the same code: the caller, still
    # evaluating its arguments, must keep its CALL's event.
    global insert_hook
    if depth:
        insert_hook = quiet_pair
        relay(0, 0)
    return 0


def quiet_pair(a, b):
    return a


hook = quiet
for i in range(3):
    call(i)
hook = LOG.append
call("rebound")
hook = quiet
call(0)
hook = lambda x: x
call(0)
LOG.clear()  # culprit: CALL

for i in range(3):
    size("abc")
len = LOG.append
size("shadowed by a global")
del len
size("abc")

for i in range(3):
    code_point("a")
real_ord = builtins.ord
builtins.ord = LOG.append
code_point("replaced in builtins")
builtins.ord = real_ord
code_point("a")

other_hook = quiet
elsewhere = types.FunctionType(call_other.__code__, {"other_hook": LOG.append})
for i in range(3):
    call_other(i)
elsewhere("other globals")

gen_hook = quiet
suspended = types.FunctionType(gen_calls.__code__, {"gen_hook": LOG.append})()
next(suspended)
running = gen_calls()
next(running)
for i in range(3):
    running.send(i)
suspended.send("a suspended frame with other globals")

insert_hook = LOG.insert
relay(0, 1)
