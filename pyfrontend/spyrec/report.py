"""Plain-text reports: what `spyrec query` prints and what str(Change) is.

    sys.path changed at samples/syspath_demo.py:9 in <module>
        9 | sys.path.insert(0, "animals")
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ CALL (offset 42), thread MainThread, seq 17
      + [0] 'animals'
      stack: samples/syspath_demo.py:9 in <module>

The carets mark the culprit instruction's columns.  They come from compiling
the recorded source again and reading the instruction's positions; when that
does not give the recorded opcode at the recorded offset (another Python
version, source changed), the whole line is marked.
"""

from __future__ import annotations

import functools
import json
import os

VERBS = {"modified": "changed", "appeared": "appeared", "vanished": "vanished", "rebound": "was rebound"}


def shown_path(path: str, cwd: str | None = None) -> str:
    """`path` relative to the recording's directory when it is inside it;
    library code as `<stdlib>/warnings.py` or `site-packages/pkg/mod.py`.
    (JSON output keeps the path as recorded.)"""
    from . import frames

    cwd = cwd or os.getcwd()
    if os.path.isabs(path) and path.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, cwd)
    return frames.short_path(path)


# Where a change without a Python frame was made: CPython's own C code
# (sys.path[0] inserted at start-up, a C extension called from no Python frame).
NO_FRAME = "outside any Python frame (the interpreter's own code)"


def file_text(item, cwd) -> str:
    """A Change's, RaisedException's or Frame's file as text shows it: what
    its recording calls it (`In [3]` for a notebook cell), else shown_path."""
    return getattr(item, "file_label", None) or shown_path(item.file, cwd)


def where(frame, cwd) -> str:
    # A RERAISE in an exception table's cleanup code has no line.
    line = f":{frame.line}" if frame.line is not None else ""
    return f"{file_text(frame, cwd)}{line} in {frame.function}"


def recording_cwd(change) -> str | None:
    try:
        return change.recording.cwd if change.recording else None
    except Exception:
        return None


def culprit_columns(change) -> tuple | None:
    """(start column, end column) of the culprit on its line, or None."""
    rec = change.recording
    lines = rec.source_lines(change.file) if rec else None
    if not lines:
        return None
    try:
        return _columns(
            "".join(l if l.endswith("\n") else l + "\n" for l in lines),
            change.file,
            change.function,
            change.line,
            change.offset,
            change.opname,
        )
    except Exception:
        return None


@functools.lru_cache(maxsize=64)
def _compiled(source: str, filename: str):
    return compile(source, filename, "exec", dont_inherit=True)


@functools.lru_cache(maxsize=256)
def _columns(source, filename, qualname, line, offset, opname):
    import dis

    todo = [_compiled(source, filename)]
    while todo:
        code = todo.pop()
        todo.extend(c for c in code.co_consts if hasattr(c, "co_code"))
        if code.co_qualname != qualname:
            continue
        for ins in dis.get_instructions(code):
            if ins.offset != offset:
                continue
            pos = ins.positions
            if ins.opname != opname or pos is None or pos.lineno != line or pos.col_offset is None:
                break
            end = pos.end_col_offset if pos.end_lineno == line else None
            return (pos.col_offset, end)
    return None


def thread_text(change) -> str:
    """`thread MainThread`, and `, task fetch-3` when an asyncio Task made the change."""
    task = getattr(change, "task", None)
    return f"thread {change.thread}" + (f", task {task}" if task else "")


def format_change(change, cwd: str | None = None, *, stack: bool = True) -> str:
    cwd = cwd or recording_cwd(change)
    verb = VERBS.get(change.kind, "changed")
    if change.file is None:
        out = [f"{change.expr} {verb} {NO_FRAME}"]
    else:
        out = [f"{change.expr} {verb} at {file_text(change, cwd)}:{change.line} in {change.function}"]
    what = (
        f"{change.opname} (offset {change.offset}), " if change.file is not None else ""
    ) + f"{thread_text(change)}, seq {change.seq}"
    text = change.source_line
    if text is None and change.recording is not None and change.file is not None:
        lines = change.recording.source_lines(change.file)
        if lines and 0 < change.line <= len(lines):
            text = lines[change.line - 1]
    if text is not None and text.strip():
        text = text.rstrip("\n")
        indent = len(text) - len(text.lstrip())
        prefix = f"{change.line:>5} | "
        out.append(prefix + text[indent:])
        cols = culprit_columns(change)
        if cols is not None:
            start, end = cols
            end = len(text) if end is None else end
            start = max(start - indent, 0)
            width = max(end - indent - start, 1)
        else:
            start, width = 0, max(len(text) - indent, 1)
        out.append(" " * (len(prefix) + start) + "^" * width + " " + what)
    else:
        out.append("    " + what)
    if change.diff_lines or change.kind == "rebound":
        out.extend("  " + line for line in what_changed(change))
    else:
        out.append(f"  before: {value_text(change.before) if change.before_exists else '(did not exist)'}")
        out.append(f"  after:  {value_text(change.after) if change.after_exists else '(does not exist)'}")
    test = getattr(change, "test", None)
    if test is not None:
        out.append(f"  test: {test} ({change.phase})")
    if getattr(change, "process", None):
        out.append(f"  process: {change.process}")
    if stack and change.stack:
        out.extend(_stack_lines(change.stack, cwd))
    if stack and getattr(change, "trail", None):
        # Recorded with --trail: the lines this thread ran up to the culprit.
        out.append(f"  trail: {where(change.trail[0], cwd)}")
        out.extend(f"         {where(f, cwd)}" for f in change.trail[1:])
    return "\n".join(out)


def _stack_lines(stack, cwd) -> list:
    """The stack, library runs folded; when the culprit is library code, the
    first frame in the user's own code named first."""
    from . import frames

    out = ["  " + line for line in _your_frame(stack[0].file, stack, cwd)]
    shown = [f if isinstance(f, str) else where(f, cwd) for f in frames.fold(stack)]
    out.append(f"  stack: {shown[0]}")
    out.extend(f"         {line}" for line in shown[1:])
    return out


def culprit_lines(change, cwd: str | None = None, label: str = "culprit") -> list:
    """`LABEL: FILE:LINE in FUNCTION (OPNAME)`, and when the culprit is library
    code, the first frame in the user's own code on a line of its own."""
    cwd = cwd or recording_cwd(change)
    return [
        f"{label}: {file_text(change, cwd)}:{change.line} in {change.function} ({change.opname})",
        *_your_frame(change.file, change.stack, cwd),
    ]


def _your_frame(culprit_file: str, stack, cwd) -> list:
    """["from your code: FILE:LINE in FUNCTION"] when the culprit is library
    code and the stack passes through the user's own code; else []."""
    from . import frames

    if frames.is_user(culprit_file):
        return []
    mine = frames.first_user_frame(stack)
    return [f"from your code: {where(mine, cwd)}"] if mine is not None else []


def leak_values(leak, width: int = 70, most: int = 8) -> list:
    """`before -> after` as lines: whole values when short, else the edits
    (the first `most` of them; `query leaks --json` has them all)."""
    before = value_text(leak.before) if leak.before_exists else "(did not exist)"
    after = value_text(leak.after) if leak.after_exists else "(does not exist)"
    if len(before) + len(after) <= width or not leak.diff_lines:
        return [f"{before} -> {after}"]
    lines = list(leak.diff_lines[:most])
    if len(leak.diff_lines) > most:
        lines.append(f"… {len(leak.diff_lines) - most} more edits (spyrec query leaks --json)")
    return lines


def format_leak(leak, cwd: str | None = None) -> str:
    cwd = cwd or (recording_cwd(leak.changes[-1]) if leak.changes else None)
    out = [f"{leak.test} leaked {leak.expr}:"]
    out.extend("    " + line for line in leak_values(leak))
    if leak.changes:
        n = len(leak.changes)
        last = leak.changes[-1]
        label = f"culprit ({last.phase or 'test'}" + (f", last of {n} changes)" if n > 1 else ")")
        out.extend("    " + line for line in culprit_lines(last, cwd, label))
    return "\n".join(out)


def format_leaks(leaks: list, cwd: str | None = None) -> str:
    if not leaks:
        return "no leaks: every watched value was as it had been when each test began"
    tests = len({leak.test for leak in leaks})
    out = [f"{len(leaks)} leak{'s' if len(leaks) != 1 else ''} in {tests} test{'s' if tests != 1 else ''}"]
    for leak in leaks:
        out.append(format_leak(leak, cwd))
    return "\n".join(out)


def format_history(expr: str, changes: list, cwd: str | None = None) -> str:
    if not changes:
        return f"{expr}: no changes"
    cwd = cwd or recording_cwd(changes[0])
    n = len(changes)
    out = [f"{expr}: {n} change{'s' if n != 1 else ''}, oldest first"]
    for i, ch in enumerate(changes, 1):
        out.extend(_history_entry(i, ch, cwd))
    return "\n".join(out)


def history_lines(expr: str, changes, cwd: str | None = None, count: int | None = None):
    """format_history's lines for an iterator, yielded as the changes come.
    `count`, when the caller knows it (a watch's own changes), heads the
    report as in format_history; otherwise (a sub-path's changes, known only
    by reading them all) it comes last."""
    n = 0
    for n, ch in enumerate(changes, 1):
        if n == 1:
            yield (
                f"{expr}: {count} change{'s' if count != 1 else ''}, oldest first"
                if count is not None
                else f"{expr}: oldest first"
            )
        yield from _history_entry(n, ch, cwd or recording_cwd(ch))
    if n == 0:
        yield f"{expr}: no changes"
    elif count is None:
        yield f"{n} change{'s' if n != 1 else ''}"


def _history_entry(i: int, ch, cwd) -> list:
    verb = "" if ch.kind == "modified" else f" ({ch.kind})"
    lines = what_changed(ch)
    if ch.file is not None:
        lines = _your_frame(ch.file, ch.stack, cwd) + lines
    test = getattr(ch, "test", None)
    during = f"\n       in test {test} ({ch.phase})" if test is not None else ""
    process = f"\n       in process {ch.process}" if getattr(ch, "process", None) else ""
    where = (
        f"{file_text(ch, cwd)}:{ch.line} in {ch.function}  {ch.opname} (offset {ch.offset})"
        if ch.file is not None
        else NO_FRAME
    )
    return [f"#{i:<3} seq {ch.seq:<6} {where}, {thread_text(ch)}{verb}{during}{process}"] + [
        "       " + line for line in lines
    ]


REBOUND_WIDTH = 200


def what_changed(ch) -> list:
    """The diff lines; for a rebinding, the old and the new object whole
    (cut to a line each): `X = []` replaced the list, it did not remove its items."""
    if ch.kind != "rebound":
        return list(ch.diff_lines)
    if ch.before_exists and ch.after_exists and ch.before == ch.after:
        # warnings.catch_warnings(): a new object with the same contents.
        return ["(bound to another object with equal contents)"]
    return ["(bound to another object)", f"- {_cut(value_text(ch.before))}", f"+ {_cut(value_text(ch.after))}"]


def _cut(text: str, width: int = REBOUND_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_exception(exc, cwd: str | None = None) -> str:
    again = " (re-raised)" if exc.reraised else ""
    message = f"{exc.type}: {exc.message}" if exc.message else exc.type
    notes = f"\n       in process {exc.process}" if getattr(exc, "process", None) else ""
    if getattr(exc, "reraises", 0):
        last = exc.last_raise
        times = "once" if exc.reraises == 1 else f"{exc.reraises} times"
        notes += f"\n       re-raised {times}, last at {where(last, cwd) if last and last.file else '?'}"
    if getattr(exc, "frames_left_out", 0):
        notes += f"\n       ({exc.frames_left_out} outer frames not stored: this instruction raised more than 16 times)"
    raised_at = file_text(exc, cwd) if exc.file else "?"
    if exc.line is not None:  # a RERAISE in an exception table's cleanup has no line
        raised_at += f":{exc.line}"
    return (
        f"seq {exc.seq:<6} {message}{again}\n"
        f"       at {raised_at} in {exc.function}  "
        f"{exc.opname} (offset {exc.offset}), thread {exc.thread}{notes}"
    )


def format_value(expr: str, seq: int, exists: bool, value) -> str:
    if not exists:
        return f"{expr} did not exist at seq {seq}"
    return f"{expr} at seq {seq}:\n{value_text(value, indent=2)}"


def watch_note(watch: dict, argv=()) -> str:
    """What a watch's line says about finding it: why it was never found, or
    that it appeared after recording started. Nothing for a `__main__.*`
    watch that appeared later: the program defines its names as it runs."""
    if watch.get("never_found"):
        return "never found: " + never_found_reason(watch.get("expr", ""), watch.get("unresolved_reason"), argv)
    if not watch.get("resolved_at_start", True) and not watch.get("expr", "").startswith("__main__."):
        return "(appeared later)"
    return ""


def never_found_reason(expr: str, reason, argv=()) -> str:
    """The recorder's reason, with a hint when the watch names the program's
    own script by its module name: a script runs as `__main__`."""
    root = expr.split(".", 1)[0].split("[", 1)[0]
    script = argv[0] if argv else ""
    if root and script.endswith(".py") and os.path.splitext(os.path.basename(script))[0] == root:
        return f"{reason} ({script} ran as __main__: watch __main__{expr[len(root) :]})"
    return str(reason)


def watched_list(watches: list) -> str:
    return ", ".join(w.get("expr", "?") for w in watches) or "nothing"


def shell_word(text: str) -> str:
    """`text` as one shell word, quoted for a person to read and retype:
    os.environ['TZ'] -> "os.environ['TZ']" (shlex.quote would splice quotes)."""
    import shlex

    if shlex.quote(text) == text:
        return text
    if not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


def not_watched_text(expr: str, watches: list, argv=()) -> str:
    """One line: what the recording watched instead, and how to re-run to watch `expr`."""
    program = " ".join(shell_word(a) for a in argv) if argv else "script.py"
    return (
        f"{expr} was not watched in this recording (it watched: {watched_list(watches)}); "
        f"to watch it, re-run: spyrec run --watch {shell_word(expr)} {program}"
    )


def format_watches(watches: list, argv=()) -> str:
    if not watches:
        return "no watches"
    width = max(len(w.get("expr", "")) for w in watches)
    out = []
    for w in watches:
        n = w.get("changes", 0)
        note = watch_note(w, argv)
        state = f"  {note}" if note else ""
        out.append(f"{w.get('expr', '?'):<{width}}  {n} change{'s' if n != 1 else ''}{state}")
        # Values inside the watch whose insides spyrec cannot see.
        for note in w.get("opaque") or ():
            where = f" at {note['where']}" if note.get("where") else ""
            out.append(f"{'':<{width}}    {note.get('type', '?')}{where}: tracks {note.get('tracked', '?')}")
    return "\n".join(out)


def format_info(info: dict, watches: list | None = None) -> str:
    import shlex
    import time

    out = []
    argv = info.get("argv") or []
    out.append(f"program:   {program_text(argv)}")
    if info.get("cwd"):
        out.append(f"directory: {info['cwd']}")
    if info.get("python_version"):
        out.append(f"python:    {info['python_version']}")
    if info.get("start_time"):
        out.append(f"started:   {_time(info['start_time'], time)}  (pid {info.get('pid', '?')})")
    ending = info.get("ending")
    if ending is None and still_running(info):
        out.append(f"ended:     still recording (pid {info.get('pid')}): what is here is what it has committed so far")
    elif ending is None:
        out.append(
            "ended:     did not finish (no ending was recorded: the process was killed, "
            "e.g. by SIGKILL, or the disk filled up; everything committed before that is here)"
        )
    else:
        when = f"{_time(ending['end_time'], time)}  " if ending.get("end_time") else ""
        out.append(f"ended:     {when}{_ending(ending)}")
        if ending.get("recording_cut"):
            out.append(
                f"           (the recording was cut: nothing after seq {ending.get('cut_at_seq')} "
                "was recorded; the program went on)"
            )
    out.append(f"secrets:   {_redaction(info.get('redact_patterns'))}")
    out.append(f"changes:   {info.get('changes', 0)}")
    out.append(f"exceptions: {info.get('exceptions', 0)}")
    if watches is not None:
        out.append("watches:")
        out.extend("  " + line for line in format_watches(watches, info.get("argv") or ()).splitlines())
    children = info.get("children") or []
    unreadable = info.get("unreadable_children") or []
    if children or unreadable:
        out.append(
            f"children:  {len(children)} process{'es' if len(children) != 1 else ''} followed"
            + (f", {len(unreadable)} unreadable" if unreadable else "")
        )
        for c in children:
            program = shlex.join(c.get("argv") or []) or "?"
            if len(program) > 40:
                program = program[:39] + "…"
            ending = _ending(c["ending"]) if c.get("ending") else "did not finish (killed)"
            n = c.get("changes", 0)
            out.append(
                f"  pid {c.get('pid')}  python {program}  {ending}; "
                f"{n} change{'s' if n != 1 else ''}  ({c.get('path')})"
            )
        for u in unreadable:
            out.append(f"  {u.get('path')}: unreadable, skipped: {u.get('error')}")
    out.append(f"format:    {info.get('format_version', '?')} (spyrec {info.get('spyrec_version', '?')})")
    return "\n".join(out)


CELL_PROGRAM = "%%spyrec"  # argv[0] of a recording of a notebook cell (jupyter.py)


def program_text(argv) -> str:
    """`python app.py --fast`, or `%%spyrec In [3]` for a notebook cell."""
    import shlex

    if not argv:
        return "?"
    if argv[0] == CELL_PROGRAM:
        return " ".join(argv)
    return f"python {shlex.join(argv)}"


def still_running(info: dict) -> bool:
    """Whether the recorded process is alive on this machine: its pid exists
    and that process started no later than the recording did (a pid reused
    since belongs to a younger process)."""
    pid, started = info.get("pid"), info.get("start_time")
    if not pid or not started:
        return False
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    process_start = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat
    return process_start <= started + 1.0


def _ending(ending: dict) -> str:
    """How the recorded process ended, in words."""
    how = ending.get("how", "?")
    status = ending.get("exit_status", 0)
    detail = {
        "exited": f"exited with status {status}" if status >= 0 else "exited",
        "exception": f"an unhandled exception, status {status}",
        "signal": f"killed by signal {_signal_name(ending.get('signal'))}",
        "stopped": "recording stopped",
    }.get(how, how)
    if ending.get("message"):
        detail += f": {ending['message']}"
    return detail


def _redaction(patterns) -> str:
    if patterns is None:
        return "not redacted (recorded by a spyrec that did not redact secrets)"
    if not patterns:
        return "not redacted (recorded with --no-redact)"
    shown = ", ".join(patterns[:4])
    more = f", … {len(patterns) - 4} more (query info --json)" if len(patterns) > 4 else ""
    return f"values under names matching {shown}{more} are fingerprints only"


def _signal_name(signum) -> str:
    import signal

    try:
        return f"{signal.Signals(int(signum)).name} ({int(signum)})"
    except (TypeError, ValueError):
        return str(signum)


def _time(t, time) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(t)))
    except (TypeError, ValueError, OverflowError):
        return str(t)


def value_text(value, indent=None) -> str:
    text = json.dumps(_shown(value), indent=indent, ensure_ascii=False, default=repr)
    if indent:
        text = "\n".join(" " * indent + line for line in text.splitlines())
    return text


def is_redacted(value) -> bool:
    """A secret's marker in a JSON value: {"__redacted__": true, "fingerprint": "3f2a..."}."""
    return isinstance(value, dict) and value.get("__redacted__") is True and len(value) == 2


def _shown(value):
    """`value` with spyrec's markers (docs/value-model.md) as the text the
    diff lines use: a secret, a cut, a cycle, the depth limit."""
    if isinstance(value, dict):
        if is_redacted(value):
            return f"<redacted, fingerprint {value.get('fingerprint')}>"
        if value.keys() == {"__cycle__"}:
            return "<cycle>"
        if value.keys() == {"__too_deep__"}:
            return "<...>"
        if value.keys() == {"__more__"}:
            return f"<{value['__more__']} more>"
        if value.keys() == {"__text__", "__more__"}:
            return f"{value['__text__']}<{value['__more__']} more>"
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value
