"""Secrets stay out of recordings: values under names such as API_TOKEN,
password or secret_key are stored as keyed fingerprints, never as bytes, in
every watch; their changes are still recorded with their culprits.

The secrets are built while the program runs (`"S3cr3t-" + str(7 ** n)`), so
their bytes are in no source file, which the recording stores as it is."""

import json
import os
import re
import subprocess
import sys

import pytest
from _programs import env as program_env
from _programs import write

PROGRAM = """
    import os

    def secret(n):
        return "S3cr3t-" + str(7 ** n)

    class Settings:
        def __init__(self):
            self.secret_key = secret(31)
            self.debug = False

    CONFIG = {"user": "alice", "password": secret(32), "card_pin": str(4700 + 11)}
    SETTINGS = Settings()

    os.environ["API_TOKEN"] = secret(33)
    CONFIG["password"] = secret(34)
    SETTINGS.secret_key = secret(35)
    CONFIG["copy"] = {"password": secret(34)}
    os.environ["API_TOKEN"] = secret(36)
    CONFIG["user"] = "bob"
    VAULT = {"credentials": {"db": "none"}, "name": "vault"}
    VAULT["credentials"]["db"] = secret(37)
    import collections
    QUEUE = collections.deque()
    QUEUE.append({"job": 1, "password": secret(38)})
"""
SECRETS = [str(7**n) for n in range(31, 39)]
WATCHES = [
    "-w",
    "__main__.CONFIG",
    "-w",
    "__main__.SETTINGS",
    "-w",
    "os.environ['API_TOKEN']",
    "-w",
    "__main__.VAULT",
    "-w",
    "__main__.VAULT['credentials']",
    "-w",
    "__main__.QUEUE",
]


def spyrec(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "spyrec", *args], cwd=cwd, env=program_env(), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def recorded(tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    r = spyrec(tmp_path, "run", *WATCHES, "-o", "rec", "prog.py")
    assert r.returncode == 0, r.stderr
    return tmp_path


def recording_bytes(directory) -> bytes:
    out = b""
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                out += f.read()
    return out


def history(cwd, expr, *extra):
    r = spyrec(cwd, "query", "-r", "rec", "history", expr, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_no_secret_reaches_the_recording_or_the_output(recorded):
    data = recording_bytes(recorded / "rec")
    assert b"alice" in data and b"bob" in data, "the plain values are recorded"
    for value in SECRETS:
        assert value.encode() not in data, value
    texts = [
        spyrec(recorded, "query", "-r", "rec", question, expr, *fmt).stdout
        for question in ("history", "last-change")
        for expr in ("__main__.CONFIG", "__main__.SETTINGS", "os.environ", "os.environ['API_TOKEN']")
        for fmt in ((), ("--json",))
    ]
    texts.append(spyrec(recorded, "query", "-r", "rec", "value", "__main__.CONFIG", "--at", "99", "--json").stdout)
    import spyrec as api

    rec = api.open(str(recorded / "rec"))
    texts.append(rec.history("__main__.CONFIG")._repr_html_())
    texts.append(rec.last_change("__main__.SETTINGS")._repr_html_())
    texts.append(rec._repr_html_())
    for text in texts:
        assert text
        for value in SECRETS:
            assert value not in text


def test_every_change_is_still_recorded_with_its_culprit(recorded):
    config = history(recorded, "__main__.CONFIG")
    assert [(c["line"], c["opname"]) for c in config] == [
        (12, "STORE_NAME"),
        (16, "STORE_SUBSCR"),
        (18, "STORE_SUBSCR"),
        (20, "STORE_SUBSCR"),
    ]
    before, after = config[1]["before"]["password"], config[1]["after"]["password"]
    assert before == {"__redacted__": True, "fingerprint": before["fingerprint"]}
    assert re.fullmatch(r"[0-9a-f]{12}", before["fingerprint"])
    assert before != after, "a changed secret gets a new fingerprint"
    assert config[1]["diff"] == [
        f"~ ['password']: <redacted, fingerprint {before['fingerprint']}> -> "
        f"<redacted, fingerprint {after['fingerprint']}>"
    ]
    # Equal values, equal fingerprints (in another key of another dict too).
    assert config[2]["after"]["copy"]["password"] == after
    # Not a secret's name: as it is.
    assert config[3]["after"]["user"] == "bob" and config[0]["after"]["card_pin"] == "4711"
    settings = history(recorded, "__main__.SETTINGS")
    change = [c for c in settings if c["opname"] == "STORE_ATTR"]
    assert len(change) == 1 and change[0]["line"] == 17
    assert change[0]["after"]["secret_key"]["__redacted__"] is True
    token = history(recorded, "os.environ['API_TOKEN']")
    assert [c["kind"] for c in token] == ["appeared", "modified"]
    assert token[0]["stack"][1]["line"] == 15 and token[1]["stack"][1]["line"] == 19
    assert all(set(c["after"]) == {"__redacted__", "fingerprint"} for c in token)
    # An edit inside a secret is written as the secret's new fingerprint, at the secret.
    vault = history(recorded, "__main__.VAULT")
    assert [c["line"] for c in vault] == [21, 22]
    assert vault[1]["diff"] == [
        f"~ ['credentials']: <redacted, fingerprint {vault[0]['after']['credentials']['fingerprint']}>"
        f" -> <redacted, fingerprint {vault[1]['after']['credentials']['fingerprint']}>"
    ]
    # A watch whose expression names a secret is a fingerprint as a whole.
    whole = history(recorded, "__main__.VAULT['credentials']")
    assert [c["line"] for c in whole] == [21, 22]
    assert whole[1]["after"] == vault[1]["after"]["credentials"]
    # Inside a deque (compared, and stored, as a whole snapshot).
    queue = history(recorded, "__main__.QUEUE")
    assert queue[-1]["after"][0]["job"] == 1 and queue[-1]["after"][0]["password"]["__redacted__"] is True
    environ = history(recorded, "os.environ")
    assert [c["after"]["API_TOKEN"]["fingerprint"] for c in environ if "API_TOKEN" in c["after"]] == [
        c["after"]["fingerprint"] for c in token
    ]


def test_query_info_says_what_was_redacted(recorded):
    info = json.loads(spyrec(recorded, "query", "-r", "rec", "info", "--json").stdout)
    assert "*TOKEN*" in info["redact_patterns"] and "*PASSWORD*" in info["redact_patterns"]
    text = spyrec(recorded, "query", "-r", "rec", "info").stdout
    assert re.search(r"^secrets: +values under names matching \*TOKEN\*", text, re.M), text


def test_no_redact_records_them_and_says_so(tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    r = spyrec(tmp_path, "run", "--no-redact", *WATCHES, "-o", "rec", "prog.py")
    assert r.returncode == 0
    assert r.stderr.splitlines()[0].startswith("spyrec: warning: --no-redact"), r.stderr
    data = recording_bytes(tmp_path / "rec")
    for value in SECRETS:
        assert value.encode() in data, value
    assert history(tmp_path, "__main__.CONFIG")[1]["after"]["password"] == "S3cr3t-" + SECRETS[3]
    info = json.loads(spyrec(tmp_path, "query", "-r", "rec", "info", "--json").stdout)
    assert info["redact_patterns"] == []
    assert "recorded with --no-redact" in spyrec(tmp_path, "query", "-r", "rec", "info").stdout


def test_redact_adds_patterns(tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    r = spyrec(tmp_path, "run", "--redact", "*_pin", *WATCHES, "-o", "rec", "prog.py")
    assert r.returncode == 0, r.stderr
    assert b"4711" not in recording_bytes(tmp_path / "rec")
    assert history(tmp_path, "__main__.CONFIG")[0]["after"]["card_pin"]["__redacted__"] is True
    info = json.loads(spyrec(tmp_path, "query", "-r", "rec", "info", "--json").stdout)
    assert "*_pin" in info["redact_patterns"]
    bad = spyrec(tmp_path, "run", "--redact", "x", "--no-redact", "-o", "rec2", "prog.py")
    assert bad.returncode == 2 and "contradict" in bad.stderr


def test_print_shows_fingerprints_not_values(tmp_path):
    write(tmp_path, "prog.py", PROGRAM)
    r = spyrec(tmp_path, "run", "--print", *WATCHES, "-o", "rec", "prog.py")
    assert r.returncode == 0
    assert "<redacted, fingerprint" in r.stderr
    for value in SECRETS:
        assert value not in r.stderr + r.stdout


def test_replay_reaches_a_change_of_a_value_holding_secrets(tmp_path):
    # The recording has os.environ's secrets as fingerprints only: the replay
    # takes their values from this environment and matches them as wildcards.
    write(
        tmp_path,
        "prog.py",
        """
        import os
        os.environ["MODE"] = "fast"
        os.environ["MODE"] = "slow"
    """,
    )
    environ = {**program_env(), "SERVICE_TOKEN": "tok-" + "9" * 12}
    # The rest of the environment comes from the recording (this shell lacks RECORDED_ONLY).
    run = subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "prog.py"],
        cwd=tmp_path,
        env={**environ, "RECORDED_ONLY": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert b"9" * 12 not in recording_bytes(tmp_path / "rec")
    replay = subprocess.run(
        [sys.executable, "-m", "spyrec", "replay", "-r", "rec", "--break-before", "last-change", "os.environ"],
        cwd=tmp_path,
        env=environ,
        input="p self['MODE'], self['SERVICE_TOKEN']\nc\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "spyrec: stopped before" in replay.stderr + replay.stdout, replay.stderr
    assert f"('fast', 'tok-{'9' * 12}')" in replay.stdout, replay.stdout
    assert "diverged" not in replay.stderr
