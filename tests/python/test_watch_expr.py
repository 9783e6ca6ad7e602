"""The watch expression syntax: what parses, what it normalizes to, what is refused."""

import keyword

import pytest
from spyrec import watch_expr
from spyrec.watch_expr import WatchExprError, normalize, parse, prefixes


@pytest.mark.parametrize(
    "text, module, steps",
    [
        ("sys.path", "sys", (("attr", "path"),)),
        ("os.environ['HOME']", "os", (("attr", "environ"), ("item", "HOME"))),
        (
            "myapp.settings.CONFIG['db']['host']",
            "myapp",
            (("attr", "settings"), ("attr", "CONFIG"), ("item", "db"), ("item", "host")),
        ),
        ("myapp.registry.handlers[0]", "myapp", (("attr", "registry"), ("attr", "handlers"), ("item", 0))),
        ("m.x[-1]", "m", (("attr", "x"), ("item", -1))),
        (
            "m.x[b'k'][None][True][(1, 'a')]",
            "m",
            (("attr", "x"), ("item", b"k"), ("item", None), ("item", True), ("item", (1, "a"))),
        ),
    ],
)
def test_parses_module_and_steps(text, module, steps):
    w = parse(text)
    assert w.module == module
    assert w.steps == steps
    assert w.for_core() == (w.expr, module, [tuple(s) for s in steps])


def test_quotes_and_spaces_normalize_to_one_watch():
    assert normalize('os.environ["HOME"]') == normalize("os . environ[ 'HOME' ]") == "os.environ['HOME']"


def test_normalized_text_parses_to_itself():
    for text in ["sys.path", "os.environ['HOME']", "m.x[(1, 'a')][-2][b'z']"]:
        assert normalize(normalize(text)) == normalize(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "sys",
        "f()",
        "sys.path.copy()",
        "os.environ[key]",
        "m.x[1:2]",
        "m.x[1.5]",
        "a[0]",
        "1 + 2",
        "m.x[-y]",
        "m.x[[1]]",
        "sys.path if x else y",
        "lambda: 0",
        "m.x[f'{a}']",
        "import os",
    ],
)
def test_refuses_with_one_line_saying_what_is_allowed(text):
    with pytest.raises(WatchExprError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert "literal keys" in message


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "empty watch expression"),
        ("   ", "empty watch expression"),
        (None, "empty watch expression"),
        (123, "empty watch expression"),
        ("1 +", "is not a Python expression"),
        ("m.x[1:2]", "slices cannot be watched"),
        ("sys.path.copy()", "is not a dotted path (it has a call)"),
        ("m.x + 1", "is not a dotted path (it has m.x + 1)"),
        ("m.x[1.5]", "the key 1.5 is not an allowed literal"),
        ("sys", "names no value inside module 'sys'"),
        ("a" + ".b" * 300, "has more than 200 steps"),
    ],
)
def test_each_refusal_says_why(text, says):
    with pytest.raises(WatchExprError) as info:
        parse(text)
    assert says in str(info.value)
    assert str(info.value).endswith("e.g. os.environ['HOME']") or "steps" in says


def test_a_parsed_watch_is_immutable():
    w = parse("sys.path")
    with pytest.raises(AttributeError):
        w.module = "os"


def test_prefixes_longest_first_with_the_steps_after_them():
    assert list(prefixes(parse("myapp.CONFIG['db']['host']"))) == [
        ("myapp.CONFIG['db']['host']", ()),
        ("myapp.CONFIG['db']", (("item", "host"),)),
        ("myapp.CONFIG", (("item", "db"), ("item", "host"))),
    ]
    assert list(prefixes(parse("sys.path"))) == [("sys.path", ())]


ALLOWED_TEXT = (
    "a watch is a module name, then .attributes and [subscripts] with literal keys "
    "(str, int, bytes, bool, None or a tuple of them), e.g. os.environ['HOME']"
)


def test_refusals_end_with_what_is_allowed_word_for_word():
    with pytest.raises(WatchExprError) as info:
        parse("f()")
    assert str(info.value) == f"'f()' is not a dotted path (it has a call); {ALLOWED_TEXT}"


def test_at_most_200_steps_counting_attributes_and_subscripts():
    assert len(parse("a" + ".b" * 200).steps) == 200
    assert len(parse("a" + ".b" * 100 + "[0]" * 100).steps) == 200
    for text in ("a" + ".b" * 201, "a" + ".b" * 100 + "[0]" * 101):
        with pytest.raises(WatchExprError) as info:
            parse(text)
        assert str(info.value) == (
            f"{text[:60]!r}... ({len(text)} characters) has more than 200 steps; a watch is at most 200"
        )


def test_long_expressions_are_cut_in_messages_past_80_characters():
    with pytest.raises(WatchExprError) as info:
        parse("m.x[" + "1" * 74 + "+]")  # 80 characters
    assert "..." not in str(info.value).split(";")[0]
    longer = "m.x[" + "1" * 75 + "+]"  # 81 characters
    with pytest.raises(WatchExprError) as info:
        parse(longer)
    assert str(info.value).startswith(f"{longer[:60]!r}... ({len(longer)} characters) is not a Python expression;")


@pytest.mark.parametrize(
    "text",
    ["sys.path", "os.environ", "a.b.c.d", "m._x", "m.__dict__", "m.match", "m.case", "m.type", "m._", "a" + ".b" * 200],
)
def test_dotted_names_parse_as_the_compiler_parses_them(text):
    # parse() reads a plain dotted name itself; the compiler's reading is the reference.
    fast = watch_expr._dotted(text)
    assert fast is not None
    assert fast == watch_expr._parse_with_compiler(text)
    assert (fast.expr, fast.module, fast.steps) == (parse(text).expr, parse(text).module, parse(text).steps)


@pytest.mark.parametrize(
    "text", ["sys.if", "m.None", "m.x.True", "sys.pa th", "sys..path", "sys.", ".path", "sys.péth", "sys"]
)
def test_what_is_not_a_plain_dotted_name_goes_to_the_compiler(text):
    assert watch_expr._dotted(text) is None


def test_the_keywords_a_dotted_name_cannot_hold_are_pythons():
    assert watch_expr._KEYWORDS == set(keyword.kwlist)


def test_a_parsed_watch_is_a_value():
    w = parse("myapp.CONFIG['db']")
    assert w == parse('myapp . CONFIG["db"]') and hash(w) == hash(parse("myapp.CONFIG['db']"))
    steps = (("attr", "CONFIG"), ("item", "db"))
    assert repr(w) == f"WatchExpr(expr=\"myapp.CONFIG['db']\", module='myapp', steps={steps!r})"
    import copy

    assert copy.copy(w) == w and copy.deepcopy(w) == w
