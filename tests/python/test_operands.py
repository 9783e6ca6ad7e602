"""Reading an instruction's operands: the stack depth at every offset and the
frame layout the recorder relies on (recorder/stack_depth.cpp,
recorder/python_version.h), on the Python running the tests.

The depths are checked against a separate pure-Python walk written with
`dis` (stack_effect, the exception table), over a sample of the stdlib, and
against depths known by hand. Whether the recorder reads the right slot at
run time is what the exactness corpus checks (operand_targets.py).
"""

import dis
import glob
import os
import types
import warnings

import pytest
from spyrec import _core


def _cache_count(op):
    import opcode

    entries = opcode._inline_cache_entries
    if isinstance(entries, dict):  # 3.13: by name
        return entries.get(dis.opname[op], 0)
    return entries[op]


def _effect(op, arg, jump):
    if dis.opname[op] == "RETURN_GENERATOR":
        return 1  # 3.12 says 0: its compiler adds it after computing depths
    return dis.stack_effect(op, arg if op >= dis.HAVE_ARGUMENT else None, jump=jump)


def reference_depths(code):
    """Depth before each instruction (index = offset // 2), or None."""
    raw = code.co_code
    units = len(raw) // 2
    jumps = set(getattr(dis, "hasjump", ())) | set(dis.hasjrel)
    unconditional = {dis.opmap[n] for n in ("JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")}
    ends = {dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE") if n in dis.opmap}
    depth = [None] * units
    starts = [(0, 0)] + [(e.target // 2, e.depth + int(e.lasti) + 1) for e in dis._parse_exception_table(code)]
    for start in starts:
        work = [start]
        while work:
            i, d = work.pop()
            while 0 <= i < units and depth[i] is None:
                depth[i] = d
                arg = 0
                while raw[2 * i] == dis.opmap["EXTENDED_ARG"]:
                    arg = (arg | raw[2 * i + 1]) << 8
                    i += 1
                    depth[i] = d
                op = raw[2 * i]
                arg |= raw[2 * i + 1]
                nxt = i + 1 + _cache_count(op)
                if op in jumps:
                    target = nxt - arg if "BACKWARD" in dis.opname[op] else nxt + arg
                    work.append((target, d + _effect(op, arg, True)))
                    if op in unconditional:
                        break
                if op in ends:
                    break
                d += _effect(op, arg, False)
                i = nxt
    return depth


def all_code(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from all_code(const)


def stdlib_sample():
    files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "**", "*.py"), recursive=True))
    return files[::7]


def test_depths_agree_with_a_dis_walk_over_the_stdlib():
    checked = 0
    for path in stdlib_sample():
        try:
            with open(path, "rb") as f, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                top = compile(f.read(), path, "exec")
        except (SyntaxError, ValueError):
            continue
        for code in all_code(top):
            got = _core._stack_depths(code)
            want = reference_depths(code)
            assert got == want, f"{path}: {code.co_qualname} line {code.co_firstlineno}"
            known = [d for d in got if d is not None]
            assert known and got[0] == 0
            assert max(known) <= code.co_stacksize, f"{path}: {code.co_qualname}"
            checked += 1
    assert checked > 3000


def _depth_before(func, opname):
    depths = _core._stack_depths(func.__code__)
    offsets = [i.offset for i in dis.get_instructions(func) if i.opname == opname]
    assert offsets, f"no {opname} in {func.__name__}"
    return [depths[o // 2] for o in offsets]


def test_known_depths():
    def store(a, b, c):
        a[b] = c

    def loop(xs, out):
        for x in xs:
            out[x] = x

    def nested(rows, out):
        with open(os.devnull) as f:
            for row in rows:
                try:
                    out[row] += f.name
                except KeyError:
                    del out[row]

    def slices(a, b):
        a[1:2] = b

    assert _depth_before(store, "STORE_SUBSCR") == [3]
    assert _depth_before(loop, "FOR_ITER") == [1]
    assert _depth_before(loop, "STORE_SUBSCR") == [4]  # iterator, then value, container, key
    assert _depth_before(nested, "FOR_ITER") == [2]  # the with's __exit__, the iterator
    # In the handler: __exit__, iterator, the exception being handled (kept
    # for POP_EXCEPT), then container and key.
    assert _depth_before(nested, "DELETE_SUBSCR") == [5]
    assert _depth_before(slices, "STORE_SLICE") == [4]


def test_frame_layout_matches_this_python():
    assert _core._frame_layout_matches() is True


def test_not_a_code_object_is_a_value_error():
    with pytest.raises(ValueError):
        _core._stack_depths("not code")
