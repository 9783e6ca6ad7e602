"""`spyrec dap`, driven over stdio by a scripted Debug Adapter Protocol client
the way an editor drives it: data breakpoints on watch expressions, a stop at
each change with the live program, reverseContinue to the previous change
(by re-running the program, checked against the recording), and errors as
error responses, never a crash."""

import json
import os
import queue
import subprocess
import sys
import threading

import pytest
from _programs import env as program_env
from _programs import write

PROGRAM = """
    CONFIG = {"mode": "start"}


    def configure(mode):
        CONFIG["mode"] = mode
        print("set", mode)
        return mode


    steps = []
    for mode in ("fast", "slow", "off"):
        steps.append(configure(mode))
    print("done", steps)
"""


class Client:
    def __init__(self, cwd):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spyrec", "dap"],
            cwd=cwd,
            env=program_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.seq = 0
        self.messages: queue.Queue = queue.Queue()
        self.events: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = stream.read(1)
                if not byte:
                    self.messages.put(None)
                    return
                header += byte
            length = int(header.split(b":")[1].split(b"\r\n")[0])
            self.messages.put(json.loads(stream.read(length)))

    def send(self, command, **arguments):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return self.seq

    def _next(self, timeout=60):
        message = self.messages.get(timeout=timeout)
        assert message is not None, "the adapter closed its output: " + self.proc.stderr.read().decode()
        if message["type"] == "event":
            self.events.append(message)
        return message

    def request(self, command, **arguments):
        seq = self.send(command, **arguments)
        while True:
            message = self._next()
            if message["type"] == "response" and message["request_seq"] == seq:
                return message

    def ok(self, command, **arguments):
        response = self.request(command, **arguments)
        assert response["success"], response
        return response.get("body") or {}

    def wait_event(self, name):
        for i, event in enumerate(self.events):
            if event["event"] == name:
                return self.events.pop(i)
        while True:
            message = self._next()
            if message["type"] == "event" and message["event"] == name:
                self.events.remove(message)
                return message

    def evaluate(self, expression, frame_id=None):
        if frame_id is None:
            frame_id = self.top()["id"]
        return self.ok("evaluate", expression=expression, frameId=frame_id, context="repl")["result"]

    def top(self):
        return self.ok("stackTrace", threadId=1)["stackFrames"][0]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.request("disconnect")
            except Exception:
                pass
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def client(tmp_path):
    c = Client(tmp_path)
    yield c
    c.close()


def start(client, tmp_path, program=PROGRAM, watch="__main__.CONFIG", **launch):
    write(tmp_path, "prog.py", program)
    caps = client.ok("initialize", adapterID="spyrec", linesStartAt1=True)
    assert caps["supportsConfigurationDoneRequest"] and caps["supportsDataBreakpoints"]
    assert caps["supportsStepBack"]
    client.wait_event("initialized")
    client.ok("launch", **({"program": "prog.py", "cwd": str(tmp_path)} | launch))
    info = client.ok("dataBreakpointInfo", name=watch)
    assert info["dataId"] == watch
    bps = client.ok("setDataBreakpoints", breakpoints=[{"dataId": info["dataId"]}])["breakpoints"]
    assert bps == [{"verified": True, "description": watch}]
    client.ok("configurationDone")


def stop(client):
    event = client.wait_event("stopped")["body"]
    assert event["reason"] == "data breakpoint"
    return event


def test_stops_at_each_change_with_the_live_program_and_steps_back(client, tmp_path):
    start(client, tmp_path)
    # First, CONFIG appears: the module's assignment.
    stop(client)
    top = client.top()
    assert (top["name"], top["line"]) == ("<module>", 2)
    assert client.evaluate("CONFIG") == repr({"mode": "start"})
    client.ok("continue", threadId=1)
    stops = []
    for expected in ("fast", "slow", "off"):
        event = stop(client)
        assert "diverged" not in event["description"]
        top = client.top()
        # The culprit's frame, right after the change: the line that made it,
        # the function's live locals, the watched value as it is now.
        assert (top["name"], top["line"], os.path.basename(top["source"]["path"])) == ("configure", 6, "prog.py")
        assert client.evaluate("mode") == repr(expected)
        assert client.evaluate("CONFIG") == repr({"mode": expected})
        frames = client.ok("stackTrace", threadId=1)["stackFrames"]
        assert [f["name"] for f in frames] == ["configure", "<module>"], "no spyrec or runpy frames"
        assert client.evaluate("steps", frames[1]["id"]) == repr(["fast", "slow", "off"][: len(stops)])
        scopes = client.ok("scopes", frameId=top["id"])["scopes"]
        local = client.ok("variables", variablesReference=scopes[0]["variablesReference"])["variables"]
        assert {v["name"]: v["value"] for v in local} == {"mode": repr(expected)}
        stops.append(event)
        if expected == "slow":
            # Back to the previous change: the live state as it was then.
            client.ok("reverseContinue", threadId=1)
            back = stop(client)
            assert "diverged" not in back["description"], [e for e in client.events if e["event"] == "output"]
            assert "change 2" in back["description"]
            assert client.evaluate("CONFIG") == repr({"mode": "fast"})
            assert client.evaluate("steps", client.ok("stackTrace", threadId=1)["stackFrames"][1]["id"]) == "[]"
            client.ok("continue", threadId=1)
            stop(client)
            assert client.evaluate("CONFIG") == repr({"mode": "slow"})
        client.ok("continue", threadId=1)
    exited = client.wait_event("exited")["body"]
    assert exited["exitCode"] == 0
    client.wait_event("terminated")
    # The program's output once, in order, though the re-run printed some of it again.
    output = "".join(
        e["body"]["output"] for e in client.events if e["event"] == "output" and e["body"]["category"] == "stdout"
    )
    assert output == "set fast\nset slow\nset off\ndone ['fast', 'slow', 'off']\n", output


def test_output_made_while_the_program_exits_is_shown_before_exited(client, tmp_path):
    # Printed by an atexit handler that is slow to run: after the debuggee has
    # said it exited, before its process ends. The adapter waits for it.
    program = """
        import atexit, time

        CONFIG = {"mode": "start"}

        def goodbye():
            time.sleep(0.5)
            print("bye")

        atexit.register(goodbye)
        print("running")
    """
    start(client, tmp_path, program=program)
    stop(client)
    client.ok("continue", threadId=1)
    client.wait_event("exited")
    client.wait_event("terminated")
    output = "".join(
        e["body"]["output"] for e in client.events if e["event"] == "output" and e["body"]["category"] == "stdout"
    )
    assert output == "running\nbye\n"


def test_data_breakpoint_values_are_editable_expressions(client, tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    client.ok("initialize", adapterID="spyrec")
    client.ok("launch", program="prog.py", cwd=str(tmp_path))
    bad = client.ok("dataBreakpointInfo", name="not an expression(")
    assert bad["dataId"] is None and bad["description"]
    result = client.ok("setDataBreakpoints", breakpoints=[{"dataId": "os.environ[HOME]"}])["breakpoints"]
    assert result[0]["verified"] is False and result[0]["message"]


def test_a_bad_launch_is_an_error_response(client, tmp_path):
    client.ok("initialize", adapterID="spyrec")
    response = client.request("launch", program="missing.py", cwd=str(tmp_path))
    assert response["success"] is False and "program not found: missing.py" in response["message"]
    response = client.request("launch", recording="nowhere", cwd=str(tmp_path))
    assert response["success"] is False and "no recording" in response["message"]
    response = client.request("evaluate", expression="1")
    assert response["success"] is False
    response = client.request("frobnicate")
    assert response["success"] is False and "frobnicate" in response["message"]
    # Still serving after all that.
    assert client.request("disconnect")["success"]
    assert client.proc.wait(timeout=30) == 0


def test_reverse_continue_is_checked_against_the_recording(client, tmp_path):
    program = """
        import os
        CONFIG = {}
        CONFIG["salt"] = os.urandom(8).hex()
        CONFIG["done"] = True
    """
    start(client, tmp_path, program)
    for _ in range(2):  # CONFIG appears, then gets its salt
        stop(client)
        client.ok("continue", threadId=1)
    stop(client)  # CONFIG["done"]
    client.ok("reverseContinue", threadId=1)
    back = stop(client)
    # The re-run drew another salt: the stop says so, and so does an output event.
    assert "diverged" in back["description"], back
    said = [
        e["body"]["output"]
        for e in client.events
        if e["event"] == "output" and e["body"].get("category") == "important"
    ]
    assert any("diverged from the recording at change 2" in s and "after" in s for s in said), said


def test_launch_from_a_recording_checks_every_stop(client, tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "-w", "__main__.CONFIG", "-o", "rec", "prog.py"],
        cwd=tmp_path,
        env=program_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    start(client, tmp_path, recording="rec")
    stop(client)
    client.ok("continue", threadId=1)
    for expected in ("fast", "slow", "off"):
        event = stop(client)
        assert "diverged" not in event["description"], event
        assert client.evaluate("mode") == repr(expected)
        client.ok("continue", threadId=1)
    client.wait_event("terminated")


def test_watches_from_launch_and_from_the_variables_view(client, tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    client.ok("initialize", adapterID="spyrec")
    client.ok("launch", program="prog.py", cwd=str(tmp_path), watch=["__main__.CONFIG"])
    client.ok("setDataBreakpoints", breakpoints=[])  # an editor with none of its own
    client.ok("configurationDone")
    stop(client)
    frame = client.top()
    scopes = {s["name"]: s["variablesReference"] for s in client.ok("scopes", frameId=frame["id"])["scopes"]}
    info = client.ok("dataBreakpointInfo", variablesReference=scopes["Globals"], name="steps")
    assert info["dataId"] == "__main__.steps"
    local = client.ok("dataBreakpointInfo", variablesReference=scopes["Locals"], name="mode")
    assert local["dataId"] is None and "not a module global" in local["description"]


def test_the_vscode_extension_declares_what_the_adapter_takes():
    from _programs import REPO

    with open(os.path.join(REPO, "editors", "vscode", "package.json")) as f:
        package = json.load(f)
    (debugger,) = package["contributes"]["debuggers"]
    assert debugger["type"] == "spyrec"
    launch = set(debugger["configurationAttributes"]["launch"]["properties"])
    assert launch == {"program", "module", "args", "cwd", "watch", "recording", "spyrecPath"}
    with open(os.path.join(REPO, "editors", "vscode", package["main"])) as f:
        extension = f.read()
    assert 'registerDebugAdapterDescriptorFactory("spyrec"' in extension and '["dap"]' in extension


def test_a_stream_that_is_not_dap_ends_the_adapter_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "spyrec", "dap"],
        cwd=tmp_path,
        env=program_env(),
        input=b"garbage\r\n\r\n",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == ["spyrec dap: a message without a Content-Length header"]
