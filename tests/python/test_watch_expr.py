"""The watch expression syntax: what parses, what it normalizes to, what is refused."""

import pytest
from spyrec.watch_expr import WatchExprError, normalize, parse


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
