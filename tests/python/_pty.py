"""Driving a spyrec pdb session through a pseudo-terminal, the way a person
types (stdlib pty): shared by the --break and replay tests."""

import os
import pty
import re
import select
import subprocess
import sys
import time

from _programs import env as program_env

PROMPT = b"(Pdb) "


def drive(args, cwd, commands, *, timeout=60, extra_env=None):
    """Runs `python -m spyrec ARGS` on a pty; at each pdb prompt sends the
    next command (b"\\x04" is Ctrl-D). Returns (exit status, transcript)."""
    environ = program_env()
    environ.update(extra_env or {})
    environ["TERM"] = "dumb"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spyrec", *args],
        cwd=cwd,
        env=environ,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    pending = list(commands)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError("timed out; transcript:\n" + out.decode(errors="replace"))
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                if out.endswith(PROMPT) and pending:
                    cmd = pending.pop(0)
                    os.write(master, cmd if cmd == b"\x04" else cmd + b"\n")
            elif proc.poll() is not None:
                break
        status = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return status, out.decode(errors="replace").replace("\r\n", "\n")


def stops(transcript):
    """The '> FILE(LINE)FUNCTION()' lines pdb prints at each stop."""
    return re.findall(r"^> (.+?)\((\d+)\)(.+?)\(\)$", transcript, re.M)
