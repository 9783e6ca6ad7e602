"""Notebook renderings: `_repr_html_` of Change, History and Recording.

A Change shows the recorded source around the culprit, its line marked and the
culprit instruction's columns underlined and named (a line often holds several
instructions: `rates["discount"] = round(...)` is a CALL and a STORE_SUBSCR),
the diff, the stack, and where it falls among its watch's changes.  A History
is a timeline and a table; a Recording is what ran, how it ended, and a
timeline per watch.  The timelines are inline SVG: no JavaScript, so they
survive nbconvert, GitHub and trusted-or-not notebooks alike.

Styles are inline for the same reason (sanitizers drop <style>).  Everything
recorded is escaped: it is the program's text and values, not ours.
"""

from __future__ import annotations

import os
import sysconfig
from html import escape

from . import report

_BOX = (
    "font-family:var(--jp-code-font-family,SFMono-Regular,Menlo,Consolas,monospace);"
    "font-size:12px;line-height:1.45;color:inherit"
)
_DIM = "color:#777"
_HIT_LINE = "background:rgba(255,213,79,.35)"
_HIT_SPAN = (
    "background:rgba(255,160,0,.35);text-decoration:underline wavy #d32f2f;text-underline-offset:3px;font-weight:bold"
)
_OP = (
    "display:inline-block;margin-left:8px;padding:0 5px;border-radius:3px;"
    "background:#d32f2f;color:#fff;font-weight:bold"
)
_CELL = "padding:0 6px;text-align:left;white-space:pre;vertical-align:top"
_ADD, _DEL, _MOD = "color:#1b7f32", "color:#b3261e", "color:#8a5a00"
_TICK, _TICK_HIT = "#3f8f6a", "#d32f2f"


def _e(value) -> str:
    return escape(str(value), quote=True)


def _td(content: str, style: str = "") -> str:
    return f'<td style="{_CELL};{style}">{content}</td>'


def _where(frame_or_change, cwd) -> str:
    return report.where(frame_or_change, cwd)


# ---- pieces ------------------------------------------------------------------------


def _marked_code(change, text: str, indent: int = 0) -> str:
    """The culprit's line (from column `indent` on) with the culprit
    instruction's columns underlined."""
    cols = report.culprit_columns(change)
    body = text[indent:]
    if cols is None:
        return _e(body)
    start, end = cols
    end = len(text) if end is None else min(end, len(text))
    start, end = max(start - indent, 0), end - indent
    if not 0 <= start < end:
        return _e(body)
    return _e(body[:start]) + f'<span style="{_HIT_SPAN}">{_e(body[start:end])}</span>' + _e(body[end:])


def _instruction(change) -> str:
    return f"{change.opname or '?'} (offset {change.offset})"


def source_html(change, before: int = 3, after: int = 3) -> str:
    context = change.source_context(before, after)
    if not context:
        return f'<div style="{_DIM}">(no recorded source for {_e(change.file)})</div>'
    rows = []
    for n, text, hit in context:
        if hit:
            code = _marked_code(change, text) + f'<span style="{_OP}">{_e(_instruction(change))}</span>'
            rows.append(f'<tr style="{_HIT_LINE}">{_td(f"&#9654; {n}", "text-align:right")}{_td(code)}</tr>')
        else:
            rows.append(f"<tr>{_td(str(n), 'text-align:right;' + _DIM)}{_td(_e(text))}</tr>")
    return (
        '<table style="border-collapse:collapse;margin:4px 0;border-left:3px solid #d32f2f">'
        + "".join(rows)
        + "</table>"
    )


def _diff_line(line: str) -> str:
    style = {"+": _ADD, "-": _DEL, "~": _MOD}.get(line[:1], "")
    return f'<div style="{style};white-space:pre">{_e(line)}</div>'


def diff_html(change) -> str:
    if change.diff_lines or change.kind == "rebound":
        lines = report.what_changed(change)
    else:
        lines = [
            f"- {report.value_text(change.before) if change.before_exists else '(did not exist)'}",
            f"+ {report.value_text(change.after) if change.after_exists else '(does not exist)'}",
        ]
    return '<div style="margin:4px 0">' + "".join(_diff_line(l) for l in lines) + "</div>"


def _installed_paths() -> tuple:
    paths = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(os.path.join(p, "") for p in paths if p)


def stack_html(frames: list, cwd) -> str:
    """Innermost first.  The outer frames that belong to the Python installation
    (IPython's and ipykernel's machinery around a cell, runpy) are folded."""
    if not frames:
        return ""
    installed = _installed_paths()
    shown = len(frames)
    while shown > 1 and (frames[shown - 1].file or "").startswith(installed):
        shown -= 1
    items = "".join(f"<li>{_e(_where(f, cwd))}</li>" for f in frames[:shown])
    folded = ""
    if shown < len(frames):
        rest = "".join(f"<li>{_e(_where(f, cwd))}</li>" for f in frames[shown:])
        folded = (
            f'<details><summary style="{_DIM}">{len(frames) - shown} more frames '
            f'(Python, IPython)</summary><ol start="{shown + 1}" style="margin:0">'
            f"{rest}</ol></details>"
        )
    return (
        f'<div style="margin-top:4px"><span style="{_DIM}">stack, innermost first</span>'
        f'<ol style="margin:0;padding-left:28px">{items}</ol>{folded}</div>'
    )


def timeline_svg(ticks: list, first: int, last: int, width: int = 320, height: int = 14) -> str:
    """ticks: [(seq, tooltip, highlighted)] drawn on a seq axis first..last."""
    span = max(last - first, 1)
    marks = []
    for seq, title, hit in ticks:
        x = 2 + (seq - first) * (width - 6) / span
        marks.append(
            f'<rect x="{x:.1f}" y="1" width="3" height="{height - 2}" rx="1" '
            f'fill="{_TICK_HIT if hit else _TICK}"><title>{_e(title)}</title></rect>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="vertical-align:middle">'
        f'<line x1="0" y1="{height / 2}" x2="{width}" y2="{height / 2}" stroke="#ccc"/>' + "".join(marks) + "</svg>"
    )


def _tick(change, cwd, hit=False) -> tuple:
    return (change.seq, f"seq {change.seq}: {_where(change, cwd)}, {change.opname}", hit)


def _seq_range(rec) -> tuple:
    """(first, last) seq of everything recorded, for a shared timeline axis."""
    # seqs are per process: the axis is the recording's own process's.
    seqs = [c.seq for c in rec.changes(pid=rec.pid)]
    try:
        seqs += [x.seq for x in rec.iter_exceptions(pid=rec.pid)]
    except Exception:
        pass
    return (0, max(seqs)) if seqs else (0, 1)


# ---- the three renderings ------------------------------------------------------------------


def change_html(change) -> str:
    cwd = report.recording_cwd(change)
    verb = report.VERBS.get(change.kind, "changed")
    parts = [
        f'<div class="spyrec-change" style="{_BOX}">',
        f"<div><b>{_e(change.expr)}</b> {verb} at <b>{_e(_where(change, cwd))}</b></div>",
        f'<div style="{_DIM}">instruction <b style="color:#d32f2f">{_e(_instruction(change))}'
        f"</b> &middot; thread {_e(change.thread)} &middot; seq {change.seq}</div>",
        source_html(change),
        diff_html(change),
        stack_html(change.stack, cwd),
    ]
    timeline = _change_timeline(change, cwd)
    if timeline:
        parts.append(timeline)
    parts.append("</div>")
    return "".join(parts)


def _change_timeline(change, cwd) -> str:
    rec = change.recording
    if rec is None or getattr(rec, "_running", False):
        return ""
    try:
        history = rec.history(change.expr, pid=rec.pid)
        first, last = _seq_range(rec)
    except Exception:
        return ""
    if len(history) < 2:
        return ""
    index = next((i for i, c in enumerate(history, 1) if c.seq == change.seq), None)
    ticks = [_tick(c, cwd, c.seq == change.seq) for c in history]
    which = f"change {index} of {len(history)}" if index else f"{len(history)} changes"
    return (
        f'<div style="margin-top:4px"><span style="{_DIM}">{_e(change.expr)}: {which}'
        f"</span> {timeline_svg(ticks, first, last)}</div>"
    )


def history_html(history) -> str:
    rec = history.recording
    cwd = report.recording_cwd(history[0]) if history else None
    n = len(history)
    head = f"<b>{_e(history.expr)}</b>: {n} change{'s' if n != 1 else ''}, oldest first"
    parts = [f'<div class="spyrec-history" style="{_BOX}">', f"<div>{head}</div>"]
    if not history:
        return "".join(parts) + "</div>"
    first, last = _seq_range(rec) if rec is not None else (min(c.seq for c in history), max(c.seq for c in history))
    parts.append(
        f"<div>{timeline_svg([_tick(c, cwd) for c in history], first, last, width=480)}"
        f'<span style="{_DIM}"> seq {first}&ndash;{last}</span></div>'
    )
    head_row = "".join(_td(f"<b>{h}</b>") for h in ("#", "seq", "where", "instruction", "code", "diff"))
    rows = [f'<tr style="border-bottom:1px solid #ddd">{head_row}</tr>']
    for i, c in enumerate(history, 1):
        text = _line_text(c)
        code = "" if text is None else _marked_code(c, text, len(text) - len(text.lstrip()))
        diff = "".join(_diff_line(l) for l in c.diff_lines) or diff_html(c)
        rows.append(
            "<tr>"
            + _td(str(i))
            + _td(str(c.seq))
            + _td(_e(_where(c, cwd)))
            + _td(
                f'<b style="color:#d32f2f">{_e(_instruction(c))}</b>'
                + ("" if c.kind == "modified" else f' <span style="{_DIM}">({_e(c.kind)})</span>')
            )
            + _td(code)
            + _td(diff)
            + "</tr>"
        )
    parts.append('<table style="border-collapse:collapse;margin-top:4px">' + "".join(rows) + "</table></div>")
    return "".join(parts)


def _line_text(change) -> str | None:
    context = change.source_context(0, 0)
    return context[0][1] if context else None


def recording_html(rec) -> str:
    info = rec.info()
    watches = rec.watches()
    cwd = info.get("cwd")
    program = report.program_text(info.get("argv"))
    ending = info.get("ending")
    how = "never (cut off)" if ending is None else ending.get("how", "?")
    if ending and ending.get("how") == "exited":
        how += f" (status {ending.get('exit_status', 0)})"
    if ending and ending.get("message"):
        how += f": {ending['message']}"
    parts = [
        f'<div class="spyrec-recording" style="{_BOX}">',
        f"<div><b>spyrec recording</b> {_e(rec.path)}</div>",
        f'<div style="{_DIM}">{_e(program)} &middot; in {_e(cwd or "?")} &middot; '
        f"{info.get('changes', 0)} changes, {info.get('exceptions', 0)} exceptions "
        f"&middot; ended: {_e(how)}</div>",
    ]
    by_watch: dict = {}
    for ch in rec.changes(pid=rec.pid):
        by_watch.setdefault(ch.expr, []).append(ch)
    first, last = _seq_range(rec)
    head_row = "".join(
        _td(f"<b>{h}</b>") for h in ("watch", "changes", f"timeline (seq {first}&ndash;{last})", "last change")
    )
    rows = [f'<tr style="border-bottom:1px solid #ddd">{head_row}</tr>']
    for w in watches:
        expr = w.get("expr", "?")
        changes = by_watch.get(expr, [])
        last_change = changes[-1] if changes else None
        last_text = (
            f'{_e(_where(last_change, cwd))} <b style="color:#d32f2f">{_e(last_change.opname)}</b>'
            if last_change
            else ""
        )
        note = report.watch_note(w, info.get("argv") or ())
        note = f' <span style="{_DIM}">{_e(note)}</span>' if note else ""
        rows.append(
            "<tr>"
            + _td(f"<b>{_e(expr)}</b>{note}")
            + _td(str(len(changes)), "text-align:right")
            + _td(timeline_svg([_tick(c, cwd) for c in changes], first, last))
            + _td(last_text)
            + "</tr>"
        )
    parts.append('<table style="border-collapse:collapse;margin-top:4px">' + "".join(rows) + "</table></div>")
    return "".join(parts)
