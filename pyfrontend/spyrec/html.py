"""Notebook renderings: `_repr_html_` of Change and Recording.

A Change shows the recorded source around the culprit with the culprit's line
marked and its instruction named, the diff, and the stack; a Recording shows
what ran, how it ended, and a compact timeline of changes per watch.
Everything recorded is escaped: it is the program's text, not ours.
"""
from __future__ import annotations

from html import escape

from . import report

_STYLE = ("<style>.spyrec{font-family:var(--jp-code-font-family,monospace);font-size:12px}"
          ".spyrec table{border-collapse:collapse}.spyrec td{padding:0 6px;text-align:left;"
          "white-space:pre}.spyrec .hit{background:#fff3b0;font-weight:bold}"
          ".spyrec .ln{color:#888;text-align:right}.spyrec .add{color:#060}"
          ".spyrec .del{color:#a00}.spyrec .op{color:#555}"
          ".spyrec .tick{display:inline-block;width:6px;height:12px;margin:0 1px;"
          "background:#4a7;vertical-align:middle}</style>")


def _diff_line(line: str) -> str:
    cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
    return f'<div class="{cls}">{escape(line)}</div>'


def change_html(change) -> str:
    cwd = report._recording_cwd(change)
    where = f"{report.shown_path(change.file or '?', cwd)}:{change.line} in {change.function}"
    verb = report._VERBS.get(change.kind, "changed")
    parts = [_STYLE, '<div class="spyrec">',
             f"<div><b>{escape(change.expr)}</b> {verb} at <b>{escape(where)}</b></div>",
             f'<div class="op">{escape(change.opname or "?")} (offset {change.offset}), '
             f"thread {escape(str(change.thread))}, seq {change.seq}</div>"]
    context = change.source_context()
    if context:
        cols = report.culprit_columns(change)
        rows = []
        for n, text, hit in context:
            if hit and cols is not None:
                start, end = cols
                end = len(text) if end is None else end
                code = (escape(text[:start]) + f'<span class="hit">{escape(text[start:end])}</span>'
                        + escape(text[end:]))
                note = f' <span class="op">\u2190 {escape(change.opname or "?")}</span>'
                rows.append(f'<tr><td class="ln">&gt; {n}</td><td>{code}{note}</td></tr>')
            elif hit:
                rows.append(f'<tr class="hit"><td class="ln">&gt; {n}</td><td>{escape(text)}'
                            f' <span class="op">\u2190 {escape(change.opname or "?")}</span></td></tr>')
            else:
                rows.append(f'<tr><td class="ln">{n}</td><td>{escape(text)}</td></tr>')
        parts.append("<table>" + "".join(rows) + "</table>")
    parts.append("<div>" + "".join(_diff_line(l) for l in change.diff_lines) + "</div>")
    if change.stack:
        parts.append("<div>stack (innermost first):<ol>" + "".join(
            f"<li>{escape(report.shown_path(f.file or '?', cwd))}:{f.line} in {escape(str(f.function))}</li>"
            for f in change.stack) + "</ol></div>")
    parts.append("</div>")
    return "".join(parts)


def recording_html(rec) -> str:
    info = rec.info()
    watches = rec.watches()
    argv = " ".join(info.get("argv") or [])
    ending = info.get("ending") or {}
    parts = [_STYLE, '<div class="spyrec">',
             f"<div><b>spyrec recording</b> {escape(rec.path)}</div>",
             f"<div>program: python {escape(argv)} &mdash; {info.get('changes', 0)} changes, "
             f"{info.get('exceptions', 0)} exceptions, ended: {escape(str(ending.get('how', 'never')))}</div>"]
    by_watch: dict = {}
    for ch in rec.changes():
        by_watch.setdefault(ch.expr, []).append(ch)
    rows = []
    for w in watches:
        expr = w.get("expr", "?")
        changes = by_watch.get(expr, [])
        ticks = "".join(
            f'<span class="tick" title="seq {c.seq}: {escape(report.shown_path(c.file or "?", info.get("cwd")))}'
            f':{c.line} {escape(c.opname or "?")}"></span>' for c in changes[:200])
        more = f" +{len(changes) - 200}" if len(changes) > 200 else ""
        last = changes[-1] if changes else None
        last_text = (f"last: {escape(report.shown_path(last.file or '?', info.get('cwd')))}:{last.line} "
                     f"{escape(last.opname or '?')}" if last else "")
        rows.append(f"<tr><td><b>{escape(expr)}</b></td><td>{len(changes)}</td>"
                    f"<td>{ticks}{more}</td><td>{last_text}</td></tr>")
    parts.append("<table><tr><td>watch</td><td>changes</td><td>timeline</td><td></td></tr>"
                 + "".join(rows) + "</table></div>")
    return "".join(parts)
