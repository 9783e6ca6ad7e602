"""The exactness oracle: a slow, obviously-correct reference monitor.

    python oracle.py [--json] [--out FILE] [--follow N] [-w EXPR]... script.py [args...]

Runs script.py as ``__main__`` (same sys.argv, sys.path[0], stdout/stderr as
``python script.py``) under sys.monitoring with INSTRUCTION events on every
code object, never returning DISABLE. At every event it re-resolves and
deep-snapshots each watch and compares with the previous snapshot (and,
for a mutable watched value, its identity: see docs/value-model.md); a
difference is a change, blamed on the thread's current culprit. The report
(a JSON array in the contract's `--json` shape, oldest first) goes to --out,
never to the program's stdout/stderr.

What flows in: a script and watch expressions. What flows out: the list of
changes that spyrec's `history --json` must reproduce (file, line, function,
offset, opname, thread). Speed is not a goal; being easy to check is.
"""

import array
import atexit
import bisect
import collections
import dis
import json
import os
import sys
import threading
import types

# A watch on warnings.* must resolve at start whichever Python runs us: 3.13
# imports warnings with our own imports (and spyrec's CLI with its own on
# both), 3.12 would import it only when the program does.
import warnings  # noqa: F401

TOOL_ID = 5
ORACLE_FILE = (lambda: 0).__code__.co_filename  # as CPython spells it
MISSING = ("missing",)
M = sys.monitoring
E = M.events


# ---------------------------------------------------------------- watches --


def parse_watch(expr):
    """'a.b["k"][0].c' -> ('a', [('attr','b'), ('item','k'), ('item',0), ('attr','c')])."""
    import ast  # imported before monitoring starts (parse happens in main)

    node = ast.parse(expr, mode="eval").body
    steps = []
    while True:
        if isinstance(node, ast.Attribute):
            steps.append(("attr", node.attr))
            node = node.value
        elif isinstance(node, ast.Subscript):
            steps.append(("item", ast.literal_eval(node.slice)))
            node = node.value
        elif isinstance(node, ast.Name):
            steps.reverse()
            return node.id, steps
        else:
            raise SystemExit(f"oracle: bad watch expression {expr!r}")


def _getattr_safe(obj, name):
    """Attribute lookup through __dict__s only: no user __getattr__, no properties."""
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        d = None
    if isinstance(d, (dict, types.MappingProxyType)) and name in d:
        return dict.get(d, name) if type(d) is dict else d[name]
    if isinstance(obj, type):
        for klass in type.__getattribute__(obj, "__mro__"):
            cd = type.__getattribute__(klass, "__dict__")
            if name in cd:
                return cd[name]
        return MISSING
    if isinstance(obj, types.ModuleType):
        return MISSING
    for klass in type(obj).__mro__:
        cd = type.__getattribute__(klass, "__dict__")
        if name in cd:
            v = cd[name]
            return MISSING if hasattr(type(v), "__get__") else v
    return MISSING


def _getitem_safe(obj, key):
    if isinstance(obj, os._Environ):
        raw = dict.get(obj._data, key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key, MISSING)
        return raw if raw is MISSING else raw.decode("utf-8", "surrogateescape")
    if isinstance(obj, dict):
        try:
            return dict.get(obj, key, MISSING)
        except TypeError:
            return MISSING
    if isinstance(obj, (list, tuple)) and type(key) is int:
        seq = list.copy(obj) if isinstance(obj, list) else tuple.__getitem__(obj, slice(None))
        return seq[key] if -len(seq) <= key < len(seq) else MISSING
    return MISSING


_ROOTS = {}  # root module name -> the module object last found in sys.modules


def resolve(watch):
    root, steps = watch
    # Never import: only what is in sys.modules. Once found, a root module is
    # kept: importlib's _load_unlocked pops every module it has just executed
    # from sys.modules and puts it back (3.12 and 3.13), and removing a module
    # from sys.modules changes no value a program holds, so that must not read
    # as the watch disappearing and reappearing.
    obj = dict.get(sys.modules, root, MISSING)
    if obj is MISSING:
        obj = _ROOTS.get(root, MISSING)
    else:
        _ROOTS[root] = obj
    for kind, arg in steps:
        if obj is MISSING:
            return MISSING
        obj = _getattr_safe(obj, arg) if kind == "attr" else _getitem_safe(obj, arg)
    return obj


# -------------------------------------------------------------- snapshots --
#
# The value model (docs/value-model.md): builtin containers are compared all
# the way down, whatever their size; a plain object is walked only as the
# watched value itself (or down to --follow levels below it); anything else
# inside a value is compared by identity. A snapshot never runs user code:
# types are tested with issubclass on type(obj) (isinstance may read a user
# __class__), and contents are read through the builtin types' own methods.

_SCALARS = (int, float, str, bytes)  # and subclasses: compared by value
_IMMUTABLE = _SCALARS + (tuple, frozenset, type(None))
# Exact types whose == is exact within and across each other (1 == True and
# 0.0 == -0.0 are why bool and float are not here): kept as they are in a
# snapshot, so a container holding only these is snapshotted in C.
_RAW = {int, str, bytes, type(None)}
# The builtin base's own methods: exact copies, never a subclass's override.
_SCALAR_VALUE = (
    (int, int.__int__),
    (float, float.__repr__),
    (str, str.__str__),
    (bytes, lambda b: bytes.__getitem__(b, slice(None))),
)
_qualname = type.__dict__["__qualname__"].__get__  # never a metaclass property
_flags = type.__dict__["__flags__"].__get__
_typecode = array.array.__dict__["typecode"].__get__
_HEAPTYPE = 1 << 9


# Builtin (non-heap) immutable types spyrec compares by their repr, by the
# name C gives them (recorder/snapshot.cpp is_value_repr_type). Named, not
# imported: the oracle must not import what the program does not.
_VALUE_REPR = {
    "builtins.complex",
    "builtins.range",
    "builtins.slice",
    "builtins.ellipsis",
    "builtins.NotImplementedType",
    "datetime.date",
    "datetime.datetime",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "re.Pattern",
}


def _is_value_repr(t):
    return not _flags(t) & _HEAPTYPE and f"{t.__module__}.{t.__name__}" in _VALUE_REPR


def _is_plain_type(t):
    """An instance of a Python class with a __dict__ (not a module or a class)."""
    return bool(_flags(t) & _HEAPTYPE) and not issubclass(t, (type, types.ModuleType))


def snapshot(obj, follow=0):
    """A hashable structural copy; equal snapshots <=> no change (see above)."""
    if obj is MISSING:
        return MISSING
    return _snap(obj, 0, follow, set())


def _snap(obj, depth, follow, active):
    t = type(obj)
    if t in _RAW:
        return obj
    if t is bool:
        return ("bool", obj)
    if t is float:
        return ("float", repr(obj))  # repr: NaN == NaN, 0.0 != -0.0
    if issubclass(t, _SCALARS):  # a subclass: its type, and the value of its builtin base
        for base, value_of in _SCALAR_VALUE:
            if issubclass(t, base):
                return ("scalar", _qualname(t), value_of(obj))
    if _is_value_repr(t):  # a builtin C type's own repr runs no user code
        return ("repr", repr(obj))
    ident = ("id", _qualname(t), id(obj))
    if id(obj) in active:  # a cycle: the way back up is identity
        return ident
    d = depth + 1
    active.add(id(obj))
    try:
        if issubclass(t, os._Environ):
            return ("environ", tuple(dict.items(obj._data)))
        if issubclass(t, (list, tuple)):
            items = list.copy(obj) if issubclass(t, list) else tuple.__getitem__(obj, slice(None))
            if not set(map(type, items)) <= _RAW:
                items = [_snap(x, d, follow, active) for x in items]
            return ("list" if issubclass(t, list) else "tuple", _qualname(t), tuple(items))
        if issubclass(t, dict):
            items = list(dict.items(obj))
            if not (set(map(type, dict.keys(obj))) <= _RAW and set(map(type, dict.values(obj))) <= _RAW):
                items = [(_snap(k, d, follow, active), _snap(v, d, follow, active)) for k, v in items]
            return ("dict", _qualname(t), tuple(items))
        if issubclass(t, (set, frozenset)):
            items = list(set.__iter__(obj) if issubclass(t, set) else frozenset.__iter__(obj))
            if not set(map(type, items)) <= _RAW:
                items = [_snap(x, d, follow, active) for x in items]
            # Compared as a set; kept in iteration order for the report.
            return ("set", _qualname(t), _OrderedSet(items))
        if issubclass(t, bytearray):
            return ("bytearray", _qualname(t), bytes(bytearray.__getitem__(obj, slice(None))))
        if issubclass(t, array.array):
            return ("array", _qualname(t), _typecode(obj), array.array.tobytes(obj))
        if issubclass(t, collections.deque):
            items = list(collections.deque.__iter__(obj))
            if not set(map(type, items)) <= _RAW:
                items = [_snap(x, d, follow, active) for x in items]
            return ("deque", _qualname(t), tuple(items))
        if depth <= follow and _is_plain_type(t):
            try:
                attrs = object.__getattribute__(obj, "__dict__")
            except AttributeError:
                attrs = None
            if type(attrs) is dict:
                return (
                    "object",
                    _qualname(t),
                    tuple((k, _snap(v, d, follow, active)) for k, v in list(dict.items(attrs))),
                )
        # Modules, classes, functions, plain objects inside the value, numpy
        # arrays and any other C object: which object, not what it holds.
        return ident
    finally:
        active.discard(id(obj))


class _OrderedSet(tuple):
    """A set's items in iteration order, equal to any ordering of the same items."""

    def __eq__(self, other):
        return isinstance(other, _OrderedSet) and frozenset(self) == frozenset(other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(frozenset(self))


def root_identity(obj):
    """The watched object's id when it is mutable, else None.

    Rebinding to another mutable object with equal contents is a change
    (kind "rebound": later in-place changes happen to the new object);
    rebinding to an equal immutable value is not.
    """
    if obj is MISSING or issubclass(type(obj), _IMMUTABLE) or type(obj) is bool or _is_value_repr(type(obj)):
        return None
    return id(obj)


def change_kind(before, after):
    """(snapshot, root id) pairs -> the kind spyrec records for the change."""
    if before[0] is MISSING:
        return "appeared"
    if after[0] is MISSING:
        return "vanished"
    if before[1] is not None and after[1] is not None and before[1] != after[1]:
        return "rebound"
    return "modified"


def set_paths(snap, path=()):
    """The paths (dict keys and list indexes, as in render()'s output) of
    the sets inside a snapshot: their items are compared in any order."""
    if snap is MISSING or type(snap) is not tuple or not snap or type(snap[0]) is not str:
        return []
    kind = snap[0]
    if kind == "set":
        return [list(path)]
    if kind in ("list", "tuple", "deque"):
        return [p for i, x in enumerate(snap[2]) for p in set_paths(x, (*path, i))]
    if kind == "dict":
        out = []
        for k, v in snap[2]:
            rk = render(k)
            out += set_paths(v, (*path, rk if isinstance(rk, str) else repr(rk)))
        return out
    if kind == "object":
        return [p for k, v in snap[2] for p in set_paths(v, (*path, k))]
    return []


def render(snap):
    """Snapshot -> the JSON value spyrec's `--json` shows, whole.

    Objects compared by identity render as "<Type at 0x...>" and a missing
    value as null; corpus.comparable_value() maps both sides' spellings of
    those (and of a plain object's type) to one form before comparing.
    """
    if snap is MISSING:
        return None
    if type(snap) in (int, str) or snap is None:
        return snap
    if type(snap) is bytes:
        return repr(snap)
    kind = snap[0]
    if kind == "bool":
        return snap[1]
    if kind == "float":
        return float(snap[1]) if snap[1] not in ("nan", "inf", "-inf") else snap[1]
    if kind == "scalar":
        return {"__type__": snap[1], "value": snap[2] if type(snap[2]) in (int, str) else repr(snap[2])}
    if kind == "id":
        return f"<{snap[1]} at {snap[2]:#x}>"
    if kind == "repr":
        return snap[1]
    if kind == "environ":
        return {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape") for k, v in snap[1]}
    if kind in ("list", "tuple", "deque"):
        return [render(x) for x in snap[2]]
    if kind == "set":
        return [render(x) for x in snap[2]]  # in iteration order; compared in any order (corpus._sets_sorted)
    if kind == "dict":
        out = {}
        for k, v in snap[2]:
            rk = render(k)
            out[rk if isinstance(rk, str) else repr(rk)] = render(v)
        return out
    if kind == "bytearray":
        return repr(snap[2])
    if kind == "array":
        return array.array(snap[2], snap[3]).tolist()
    if kind == "object":
        return {"__type__": snap[1], **{k: render(v) for k, v in snap[2]}}
    return repr(snap)


# ---------------------------------------------------------------- culprit --


def _instruction_starts(code, _cache={}):  # noqa: B006  (the cache is the point)
    starts = _cache.get(code)
    if starts is None:
        starts = _cache[code] = [i.offset for i in dis.get_instructions(code)]
    return starts


def instruction_at(code, lasti):
    """The instruction containing byte offset lasti.

    On 3.12 a caller's f_lasti during a Python-to-Python CALL (and a generator
    resumed by FOR_ITER/SEND) can point at the call's last inline CACHE entry,
    not at the CALL itself; round down to the instruction that owns it.
    """
    starts = _instruction_starts(code)
    i = bisect.bisect_right(starts, lasti)
    return starts[i - 1] if i else 0


def line_of(code, offset):
    for i, pos in enumerate(code.co_positions()):
        if 2 * i == offset:
            return pos[0]
    return None


def opname_at(code, offset):
    return dis.opname[code.co_code[offset]]  # co_code is deoptimized: base opcodes


def _ours(code):
    return code.co_filename == ORACLE_FILE


def _thread_name(ident):
    t = threading._active.get(ident)
    if t is not None:
        return t.name
    if ident == threading.main_thread().ident:
        return threading.main_thread().name
    return f"Thread-{ident}"


class Oracle:
    def __init__(self, exprs, follow=0):
        self.exprs = exprs
        self.follow = follow
        self.watches = [parse_watch(e) for e in exprs]
        self.previous = [self.state(w) for w in self.watches]
        # thread ident -> (code, offset, frame): the instruction that owns any
        # change seen next in this thread. The frame is dropped when it exits
        # (PY_RETURN/PY_YIELD/PY_UNWIND replace it) so we never extend a
        # frame's locals' lifetime (that would move __del__/weakref callbacks).
        self.culprit = {}
        self.changes = []

    def state(self, watch):
        """(snapshot, root identity): both must stay equal for no change."""
        obj = resolve(watch)
        return snapshot(obj, self.follow), root_identity(obj)

    # Every callback checks first (a change seen now was made by the current
    # culprit), then moves the culprit.
    def check(self):
        for i, w in enumerate(self.watches):
            now = self.state(w)
            if now != self.previous[i]:
                self.record(i, self.previous[i], now)
                self.previous[i] = now

    def record(self, i, before, after):
        ident = threading.get_ident()
        c = self.culprit.get(ident)
        entry = {
            "expr": self.exprs[i],
            "seq": len(self.changes),
            "thread": _thread_name(ident),
            "kind": change_kind(before, after),
            "file": None,
            "line": None,
            "function": None,
            "offset": None,
            "opname": None,
            "stack": [],
            "before": render(before[0]),
            "after": render(after[0]),
            "set_paths": {"before": set_paths(before[0]), "after": set_paths(after[0])},
        }
        if c is not None:
            code, offset, frame = c
            entry.update(
                file=code.co_filename,
                line=line_of(code, offset),
                function=code.co_qualname,
                offset=offset,
                opname=opname_at(code, offset),
            )
            stack = [{"file": code.co_filename, "line": entry["line"], "function": code.co_qualname}]
            f = frame.f_back if frame is not None else None
            while f is not None and not _ours(f.f_code):
                off = instruction_at(f.f_code, f.f_lasti)
                stack.append(
                    {"file": f.f_code.co_filename, "line": line_of(f.f_code, off), "function": f.f_code.co_qualname}
                )
                f = f.f_back
            entry["stack"] = stack
        self.changes.append(entry)

    def on_instruction(self, code, offset):
        if _ours(code):
            return
        self.check()
        self.culprit[threading.get_ident()] = (code, offset, sys._getframe(1))

    def on_check_only(self, code, offset, *args):
        if _ours(code):
            return
        self.check()

    def on_frame_exit(self, code, offset, arg):
        # PY_RETURN / PY_YIELD / PY_UNWIND fire while the frame is still
        # linked: f_back is whoever resumed it (a CALL, SEND, FOR_ITER that
        # may now run C code, e.g. list.extend pulling from a generator).
        if _ours(code):
            return
        self.check()
        caller = sys._getframe(1).f_back
        ident = threading.get_ident()
        if caller is None or _ours(caller.f_code):
            self.culprit.pop(ident, None)
        else:
            self.culprit[ident] = (caller.f_code, instruction_at(caller.f_code, caller.f_lasti), caller)

    def start(self):
        M.use_tool_id(TOOL_ID, "spyrec-oracle")
        for ev in (E.PY_START, E.PY_RESUME, E.PY_THROW, E.CALL, E.C_RETURN, E.C_RAISE):
            M.register_callback(TOOL_ID, ev, self.on_check_only)
        for ev in (E.PY_RETURN, E.PY_YIELD, E.PY_UNWIND):
            M.register_callback(TOOL_ID, ev, self.on_frame_exit)
        M.register_callback(TOOL_ID, E.INSTRUCTION, self.on_instruction)
        # C_RETURN/C_RAISE are switched on by CALL (they cannot be set alone).
        M.set_events(
            TOOL_ID,
            E.INSTRUCTION | E.PY_START | E.PY_RESUME | E.PY_RETURN | E.PY_YIELD | E.PY_UNWIND | E.PY_THROW | E.CALL,
        )

    def stop(self):
        M.set_events(TOOL_ID, 0)
        self.check()


def main(argv):
    exprs, out, as_json, follow = [], None, False, 0
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        if a in ("-w", "--watch"):
            exprs.append(argv[i + 1])
            i += 2
        elif a == "--out":
            out = argv[i + 1]
            i += 2
        elif a == "--json":
            as_json = True
            i += 1
        elif a == "--follow":
            follow = int(argv[i + 1])
            i += 2
        else:
            raise SystemExit(f"oracle: unknown option {a}")
    if i >= len(argv):
        raise SystemExit(__doc__)
    script, args = argv[i], argv[i + 1 :]

    path = os.path.abspath(script)  # like python >= 3.9: __main__.__file__ is absolute
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    main_mod = types.ModuleType("__main__")
    main_mod.__dict__.update(__file__=path, __builtins__=__builtins__, __spec__=None, __cached__=None, __loader__=None)
    sys.modules["__oracle__"] = sys.modules["__main__"]  # keep our own globals alive
    sys.modules["__main__"] = main_mod
    sys.argv[:] = [script] + args
    sys.path[0] = os.path.dirname(path)
    # Threads switch only where a thread blocks (join, locks, I/O), never
    # inside a callback between a mutation and its check.
    sys.setswitchinterval(1000.0)

    oracle = Oracle(exprs, follow)

    def finish():  # registered first, so it runs after the program's atexit handlers
        oracle.stop()
        text = (
            json.dumps(oracle.changes, indent=1)
            if as_json
            else "".join(
                f"{c['expr']}: {c['file']}:{c['line']} {c['function']} @{c['offset']} {c['opname']} [{c['thread']}]\n"
                for c in oracle.changes
            )
        )
        if out:
            with open(out, "w") as f:
                f.write(text)
        else:
            sys.__stderr__.write(text)

    atexit.register(finish)
    oracle.start()
    exec(code, main_mod.__dict__)


if __name__ == "__main__":
    main(sys.argv[1:])
