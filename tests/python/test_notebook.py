"""samples/postmortem.ipynb, executed with nbclient on a real ipykernel running
this interpreter (a temporary kernelspec, so 3.12 and 3.13 each test their own),
and the %%spyrec magic end to end: culprits inside cells show the cell's source."""

import json
import os
import re
import shutil
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from _programs import REPO  # noqa: E402  (after the importorskips)

KERNEL = "spyrec-test-python"


@pytest.fixture()
def kernel(tmp_path, monkeypatch):
    """A kernelspec for sys.executable, found only by this test (JUPYTER_PATH)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"spyrec test (Python {sys.version_info[0]}.{sys.version_info[1]})",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The kernel's `!python -m spyrec` must find this interpreter's scripts.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return KERNEL


def _execute(nb, cwd, kernel):
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _outputs(cell) -> tuple:
    """(the text a reader sees, the HTML) of one executed code cell."""
    text, html = [], []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append(out.get("text", ""))
        data = out.get("data", {})
        text.append(data.get("text/plain", ""))
        html.append(data.get("text/html", ""))
        if out.get("output_type") == "error":
            text.append("\n".join(out.get("traceback", [])))
    return "".join(text), "".join(html)


def _cell(nb, startswith: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(startswith))


def test_postmortem_notebook_finds_the_culprit(tmp_path, kernel):
    work = tmp_path / "samples"
    shutil.copytree(os.path.join(REPO, "samples"), work, ignore=shutil.ignore_patterns(".spyrec", ".ipynb_checkpoints"))
    nb = _execute(nbformat.read(work / "postmortem.ipynb", as_version=4), work, kernel)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not any(o.get("output_type") == "error" for o in cell.outputs), _outputs(cell)[0]

    text, _ = _outputs(_cell(nb, "import sys"))
    assert "melon   3.00 ->  2.70 EUR" in text  # the program ran, recorded

    _, html = _outputs(_cell(nb, "rec = spyrec.open()"))
    assert "__main__.CONFIG" in html and "<svg" in html  # the recording and its timeline

    _, html = _outputs(_cell(nb, "culprit = rec.last_change"))
    assert "inventory.py:28 in promo_prices" in html
    assert "STORE_SUBSCR (offset" in html
    # the culprit line, with the store's target underlined (not the whole line)
    assert ">rates[&quot;discount&quot;]</span> = round(" in html
    assert "~ [&#x27;discount&#x27;]: 0.0 -&gt; 0.1" in html

    text, _ = _outputs(_cell(nb, "print(culprit.opname"))
    assert text.splitlines() == ["STORE_SUBSCR at inventory.py:28 in promo_prices", "~ ['discount']: 0.0 -> 0.1"]

    text, _ = _outputs(_cell(nb, 'rec.value_at("__main__.CONFIG"'))
    assert "'discount': 0.0" in text and "'discount': 0.1" in text

    _, html = _outputs(_cell(nb, "history = rec.history"))
    assert "3 changes, oldest first" in html and "<svg" in html
    assert "STORE_NAME (offset" in html and "(appeared)" in html  # CONFIG = {...}
    assert "set_currency" in html and "promo_prices" in html

    _, html = _outputs(_cell(nb, "rec.to_dataframe()"))
    assert "promo_prices" in html and "STORE_SUBSCR" in html

    plot = _cell(nb, "rec.plot()")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)

    text, _ = _outputs(_cell(nb, "%%spyrec"))
    assert "1 change recorded; `live` holds the recording" in text

    # The culprit is inside a notebook cell: its source comes from the cell.
    _, html = _outputs(_cell(nb, "live.last_change"))
    assert "in holiday_mode" in html
    # ... and the cell is named as IPython numbers it, not by its temporary file.
    assert re.search(r"In \[\d+\]:\d+ in holiday_mode", html), html
    assert not re.search(r"ipykernel_\d+", html), html
    assert "def holiday_mode():" in html
    assert "inventory.CONFIG.update(currency=&quot;GBP&quot;)" in html
    assert re.search(r"CALL(_KW)? \(offset", html)  # CALL_KW on 3.13


def test_cell_magic_reports_bad_arguments_in_one_line(tmp_path, kernel):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext spyrec"),
        nbformat.v4.new_code_cell("%%spyrec -w 'not a watch'\nx = 1"),
        nbformat.v4.new_code_cell("%%spyrec -o 2bad\nx = 1"),
        nbformat.v4.new_code_cell(
            "%%spyrec --no-default-watches -w sys.path\n"
            "import sys\nsys.path.append('from-a-cell')\n"
            "raise RuntimeError('boom')"
        ),
        nbformat.v4.new_code_cell("print(rec.last_change('sys.path').opname)"),
    ]
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel, timeout=120, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert _outputs(nb.cells[1])[0].startswith("%%spyrec: ")
    assert "-o wants a variable name" in _outputs(nb.cells[2])[0]
    text = _outputs(nb.cells[3])[0]
    assert "RuntimeError" in text and "1 change recorded" in text  # bound even when it raises
    assert _outputs(nb.cells[4])[0].strip() == "CALL"
