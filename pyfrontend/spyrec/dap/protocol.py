"""The wire formats of `spyrec dap`. To the editor, DAP: each message is `Content-Length: N\\r\\n\\r\\n` and N bytes
of JSON (https://microsoft.github.io/debug-adapter-protocol/overview).

Bad framing from the client is a ProtocolError (one line); the server answers
what it can and stops reading only when the stream ends or cannot be framed.
"""

from __future__ import annotations

import json
import os
import threading

MAX_MESSAGE = 64 << 20  # bytes: larger is not a message an editor sends


class ProtocolError(Exception):
    """The byte stream is not DAP: str() is one line."""


def read_message(stream) -> dict | None:
    """The next message from a binary stream, or None at its end."""
    length = None
    while True:
        line = stream.readline(8192)
        if not line:
            if length is None:
                return None
            raise ProtocolError("the stream ended inside a message header")
        if line in (b"\r\n", b"\n"):
            if length is None:
                raise ProtocolError("a message without a Content-Length header")
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(f"Content-Length is not a number: {value.strip()!r}") from None
            if not 0 <= length <= MAX_MESSAGE:
                raise ProtocolError(f"Content-Length {length} is out of range")
    body = stream.read(length)
    if len(body) != length:
        raise ProtocolError("the stream ended inside a message body")
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"a message body that is not JSON: {e}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


class Writer:
    """Writes messages to a binary stream, numbering them (`seq`), from any thread."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self._seq = 0

    def send(self, message: dict) -> None:
        with self._lock:
            self._seq += 1
            message = {"seq": self._seq, **message}
            body = json.dumps(message, ensure_ascii=False, default=repr).encode("utf-8")
            self._stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self._stream.flush()

    def response(self, request: dict, body: dict | None = None, *, error: str | None = None) -> None:
        message = {
            "type": "response",
            "request_seq": request.get("seq", 0),
            "command": request.get("command", ""),
            "success": error is None,
        }
        if error is not None:
            message["message"] = error
            message["body"] = {"error": {"id": 1, "format": error, "showUser": True}}
        elif body is not None:
            message["body"] = body
        self.send(message)

    def event(self, name: str, body: dict | None = None) -> None:
        message = {"type": "event", "event": name}
        if body is not None:
            message["body"] = body
        self.send(message)


class LineChannel:
    """Adapter <-> debuggee: one JSON object a line over a pair of pipes
    (never pickle). A peer that is gone reads as None; writing to it is a no-op."""

    def __init__(self, in_fd: int, out_fd: int):
        self._in = os.fdopen(in_fd, "r", encoding="utf-8")
        self._out = os.fdopen(out_fd, "w", encoding="utf-8")

    def send(self, message: dict) -> None:
        try:
            self._out.write(json.dumps(message, default=repr) + "\n")
            self._out.flush()
        except (BrokenPipeError, ValueError):
            pass

    def receive(self) -> dict | None:
        for line in self._in:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message
        return None

    def close(self) -> None:
        for stream in (self._in, self._out):
            try:
                stream.close()
            except OSError:
                pass
