"""Watch expressions: the text a user types after `--watch`.

    sys.path                                  os.environ['HOME']
    myapp.settings.CONFIG['db']['host']       myapp.registry.handlers[0]

`parse()` turns the text into a `WatchExpr`: the normalized text (so that
`os.environ["HOME"]` and `os.environ[ 'HOME' ]` name the same watch), the root
module name, and the steps from that module to the value, in the shape
`_core.Recorder` takes: ("attr", name) or ("item", literal key).

The root is the first name only: `myapp.settings.CONFIG` is module `myapp`,
then attribute `settings`, then `CONFIG`.  Importing a submodule binds it as an
attribute of its package, so this resolves once `myapp.settings` is imported,
and deciding it never needs to import anything at parse time.
"""

from __future__ import annotations

from .errors import UsageError

__all__ = ["WatchExpr", "WatchExprError", "parse", "normalize", "prefixes"]

ALLOWED = (
    "a watch is a module name, then .attributes and [subscripts] with literal keys "
    "(str, int, bytes, bool, None or a tuple of them), e.g. os.environ['HOME']"
)


class WatchExprError(UsageError):
    """The text is not a watch expression; str() is one line saying what is allowed."""


class WatchExpr(tuple):
    """expr: the normalized text; module: the root module's name; steps:
    (("attr", name) | ("item", key), ...). Immutable. (A tuple of three, not
    a named tuple or a dataclass: `spyrec run` would import collections or
    inspect for one, and every recorded program's start-up pays for them.)"""

    __slots__ = ()

    def __new__(cls, expr: str, module: str, steps: tuple):
        return tuple.__new__(cls, (expr, module, steps))

    def __getnewargs__(self):
        return tuple(self)

    expr = property(lambda self: self[0], doc="the normalized text")
    module = property(lambda self: self[1], doc="the root module's name")
    steps = property(lambda self: self[2], doc="(kind, name or key) from the module to the value")

    def for_core(self) -> tuple:
        """The (expr, module, steps) triple `_core.Recorder` takes."""
        return (self.expr, self.module, [tuple(step) for step in self.steps])

    def __str__(self) -> str:
        return self.expr

    def __repr__(self) -> str:
        return f"WatchExpr(expr={self[0]!r}, module={self[1]!r}, steps={self[2]!r})"


def _literal_key(node, text: str):
    """The value of a subscript key, if it is one of the allowed literals."""
    import _ast

    if isinstance(node, _ast.Constant):
        value = node.value
        if value is None or isinstance(value, (str, bytes, bool, int)):
            return value
    elif (
        isinstance(node, _ast.UnaryOp)
        and isinstance(node.op, _ast.USub)
        and isinstance(node.operand, _ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    elif isinstance(node, _ast.Tuple):
        return tuple(_literal_key(elt, text) for elt in node.elts)
    raise WatchExprError(f"{text!r}: the key {_unparse(node)} is not an allowed literal; {ALLOWED}")


MAX_STEPS = 200


def _too_many_steps(text: str) -> str:
    return f"{_short(text)} has more than {MAX_STEPS} steps; a watch is at most {MAX_STEPS}"


def _short(text: str) -> str:
    """repr(text), cut to a readable length for a one-line error."""
    return repr(text) if len(text) <= 80 else repr(text[:60]) + f"... ({len(text)} characters)"


def _render_step(step: tuple) -> str:
    kind, value = step
    return f".{value}" if kind == "attr" else f"[{value!r}]"


def _unparse(node) -> str:
    import ast

    return ast.unparse(node)


# keyword.kwlist (test_watch_expr checks it is): an attribute cannot be named
# by one, and `keyword` is one import more for every recorded program.
_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except finally for "
    "from global if import in is lambda nonlocal not or pass raise return try while with yield".split()
)


def _dotted(text: str) -> WatchExpr | None:
    """A plain dotted name (`sys.path`, `myapp.CONFIG`), the common case,
    parsed without the compiler; None for anything else. ASCII names only:
    the compiler normalizes other identifiers (NFKC), parse() leaves that to it."""
    parts = text.split(".")
    if not 2 <= len(parts) <= MAX_STEPS + 1:
        return None
    for part in parts:
        if not (part.isascii() and part.isidentifier()) or part in _KEYWORDS:
            return None
    return WatchExpr(text, parts[0], tuple(("attr", part) for part in parts[1:]))


def parse(text: str) -> WatchExpr:
    """Parse a watch expression; raise WatchExprError (one line) if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise WatchExprError(f"empty watch expression; {ALLOWED}")
    return _dotted(text.strip()) or _parse_with_compiler(text)


def _parse_with_compiler(text: str) -> WatchExpr:
    # _ast, not ast: the node classes and the parser flag are all the parsing
    # needs, and ast.py costs ~1 MiB (ast.unparse, for messages only, imports
    # it when needed). Imported here: plain dotted names need neither.
    import _ast

    try:
        tree = compile(text.strip(), "<watch>", "eval", _ast.PyCF_ONLY_AST)
    except SyntaxError:
        raise WatchExprError(f"{_short(text)} is not a Python expression; {ALLOWED}") from None
    except (RecursionError, MemoryError):
        # Python's parser recurses once per step: a machine-made expression
        # of thousands of steps ends here, not in a RecursionError.
        raise WatchExprError(_too_many_steps(text)) from None

    steps: list[tuple] = []
    node = tree.body
    while True:
        if isinstance(node, _ast.Attribute):
            steps.append(("attr", node.attr))
            node = node.value
        elif isinstance(node, _ast.Subscript):
            if isinstance(node.slice, _ast.Slice):
                raise WatchExprError(f"{text!r}: slices cannot be watched; {ALLOWED}")
            steps.append(("item", _literal_key(node.slice, text)))
            node = node.value
        elif isinstance(node, _ast.Name):
            module = node.id
            break
        else:
            what = "a call" if isinstance(node, _ast.Call) else _unparse(node)
            raise WatchExprError(f"{text!r} is not a dotted path (it has {what}); {ALLOWED}")
    steps.reverse()
    if len(steps) > MAX_STEPS:
        raise WatchExprError(_too_many_steps(text))
    if not steps or steps[0][0] != "attr":
        raise WatchExprError(f"{text!r} names no value inside module {module!r}; {ALLOWED}")
    steps_t = tuple(steps)
    return WatchExpr(module + "".join(_render_step(s) for s in steps_t), module, steps_t)


def normalize(text: str) -> str:
    """The normalized text of a watch expression (raises WatchExprError)."""
    return parse(text).expr


def prefixes(parsed: WatchExpr):
    """(prefix text, steps after it) for every prefix of `parsed` that is a
    watch expression itself, longest (`parsed` itself, no steps) first: what a
    query on `myapp.CONFIG['db']['host']` may be answered from."""
    steps = parsed.steps
    for n in range(len(steps), 0, -1):
        yield parsed.module + "".join(_render_step(s) for s in steps[:n]), tuple(steps[n:])
