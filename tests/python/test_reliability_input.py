"""Bad input for every command gives one line on stderr and exit 2: no
traceback, no crash. Recordings damaged on disk or holding hostile Cap'n Proto
data are real recordings with bytes planted through LMDB."""

import json
import os
import shutil
import struct
import subprocess
import sys

import pytest
from _lmdb import Env
from _programs import spyrec, write

QUESTIONS = [
    ["info"],
    ["watches"],
    ["exceptions"],
    ["last-change", "sys.path"],
    ["history", "sys.path"],
    ["value", "sys.path", "--at", "1"],
]


def one_line_error(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("spyrec"), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    return r.stderr


def every_command(tmp_path, rec):
    """Each query and replay on `rec`: every one a one-line error."""
    for q in QUESTIONS:
        yield one_line_error(spyrec(["query", "-r", rec, *q], tmp_path))
        yield one_line_error(spyrec(["query", "-r", rec, *q, "--json"], tmp_path))
    yield one_line_error(
        spyrec(["replay", "-r", rec, "--break-before", "last-change", "sys.path"], tmp_path, input="c\n")
    )


@pytest.fixture
def recording(tmp_path):
    write(
        tmp_path,
        "app.py",
        """
        import sys
        sys.path.insert(0, "animals")
        sys.path.append("zoo")
    """,
    )
    r = spyrec(["run", "-o", "rec", "app.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path / "rec"


# ---- spyrec run ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,words",
    [
        (["missing.py"], "can't open file"),
        (["adir"], "can't find '__main__'"),
        (["bad.py"], "syntax error in bad.py line 1"),
        (["-c", "x = (1,"], "syntax error in -c code"),
        (["nul.py"], "null bytes"),
        (["-m", "no_such_module_xyz"], "No module named"),
        (["-w", "sys.path[", "ok.py"], ""),
        (["-w", "1abc", "ok.py"], ""),
        (["-w", "os.environ[HOME]", "ok.py"], ""),
        (["-w", "", "ok.py"], ""),
        (["-w", "sys.path.__class__()", "ok.py"], ""),
        (["-o", "afile", "ok.py"], ""),
    ],
)
def test_run_bad_input(tmp_path, args, words):
    (tmp_path / "adir").mkdir()
    write(tmp_path, "bad.py", "x = = 1\n")
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    write(tmp_path, "ok.py", "print('ran')\n")
    write(tmp_path, "afile", "not a directory\n")
    err = one_line_error(spyrec(["run", *args], tmp_path))
    assert words in err


def test_run_unknown_module_in_watch_is_not_an_error(tmp_path):
    # A watch that cannot be resolved yet is resolved when it appears.
    write(tmp_path, "ok.py", "print('ran')\n")
    r = spyrec(["run", "-o", "rec", "-w", "no_such_mod.X", "ok.py"], tmp_path)
    assert r.returncode == 0 and r.stdout == "ran\n"


@pytest.mark.parametrize("expr", ["sys.path(", "[1]", "sys..path", "a b"])
def test_query_malformed_watch_expression(recording, tmp_path, expr):
    for q in ("last-change", "history"):
        one_line_error(spyrec(["query", "-r", "rec", q, expr], tmp_path))


def test_query_unknown_watch_is_status_1_with_advice(recording, tmp_path):
    r = spyrec(["query", "-r", "rec", "last-change", "mymod.CONFIG"], tmp_path)
    assert r.returncode == 1 and "--watch" in r.stderr and "Traceback" not in r.stderr


# ---- -r at something that is not a recording ---------------------------------------


@pytest.mark.parametrize("what", ["missing", "empty_dir", "plain_file", "garbage_data", "other_lmdb"])
def test_not_a_recording(tmp_path, what):
    target = tmp_path / "target"
    if what == "empty_dir":
        target.mkdir()
    elif what == "plain_file":
        target.write_text("hello\n")
    elif what == "garbage_data":
        target.mkdir()
        (target / "data.mdb").write_bytes(os.urandom(100_000))
    elif what == "other_lmdb":
        target.mkdir()
        env = Env(target)
        env.close()
    for err in every_command(tmp_path, "target"):
        assert "recording" in err


# ---- damaged recordings ---------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 100, 4096, 8192, 12288])
def test_truncated_data_file(recording, tmp_path, keep):
    data = recording / "data.mdb"
    with open(data, "r+b") as f:
        f.truncate(keep)
    for _ in every_command(tmp_path, "rec"):
        pass


def test_a_file_truncated_while_being_read_is_one_line_not_a_crash(recording, tmp_path):
    # Opening checks the file's size against its pages; a file cut short
    # after that (another process truncating it) is only found when LMDB
    # touches a page past the new end: a SIGBUS, turned into the one line.
    program = (
        f"import os, spyrec\n"
        f"rec = spyrec.Recording({str(recording)!r})\n"
        f"rec.info()\n"
        f"os.truncate({str(recording / 'data.mdb')!r}, 8192)\n"
        f"print(list(rec.history('sys.path')))\n"
    )
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr == (
        f"spyrec: error: damaged recording: {recording}: data.mdb is shorter than its pages"
        " (damaged, or truncated while being read)\n"
    )


def test_corrupted_data_file_pages(recording, tmp_path):
    # Overwrite every page after the two meta pages with random bytes.
    data = recording / "data.mdb"
    size = os.path.getsize(data)
    with open(data, "r+b") as f:
        f.seek(8192)
        f.write(os.urandom(size - 8192))
    for r in [spyrec(["query", "-r", "rec", *q], tmp_path) for q in QUESTIONS]:
        # LMDB cannot check every page: some answers may survive, but never a crash.
        assert r.returncode in (0, 1, 2), r.stderr
        assert "Traceback" not in r.stderr and r.returncode >= 0
        if r.returncode == 2:
            one_line_error(r)


def test_newer_format_version(recording, tmp_path):
    env = Env(recording)
    env.put("meta", b"format", struct.pack(">I", 99))
    env.close()
    for err in every_command(tmp_path, "rec"):
        assert "newer" in err and "upgrade" in err


def test_format_key_of_wrong_size(recording, tmp_path):
    env = Env(recording)
    env.put("meta", b"format", b"\x01")
    env.close()
    for _ in every_command(tmp_path, "rec"):
        pass


# ---- hostile Cap'n Proto data in a real recording ----------------------------------


def framed(words: bytes) -> bytes:
    """A one-segment Cap'n Proto message: the segment table, then the words."""
    assert len(words) % 8 == 0
    return struct.pack("<II", 0, len(words) // 8) + words


def struct_ptr(offset, data_words, ptr_words):
    return struct.pack("<Q", (offset << 2) | (data_words << 32) | (ptr_words << 48))


def list_ptr(offset, elem_size, count):
    return struct.pack("<Q", 1 | (offset << 2) | (elem_size << 32) | (count << 35))


def capnp_encode(tmp_path, type_name, text):
    schema = os.path.join(os.path.dirname(__file__), "..", "..", "schema", "spyrec.capnp")
    capnp = shutil.which("capnp")
    if capnp is None:
        pytest.skip("the capnp tool is not installed")
    r = subprocess.run(
        [capnp, "encode", os.path.abspath(schema), type_name],
        input=text.encode(),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def deep_change(tmp_path, depth, key=None):
    """A change whose op replaces the whole value with `depth` nested lists; it
    agrees with `key` (a changes key: u32 watch, u64 seq) when one is given."""
    watch, seq = struct.unpack(">IQ", key) if key else (1, 1)
    value = "(none = void)"
    for _ in range(depth):
        value = f"(list = [{value}])"
    return capnp_encode(
        tmp_path,
        "Change",
        f'(seq = {seq}, watchId = {watch}, threadName = "t", kind = modified, '
        f"stack = [(codeId = 1, offset = 0, line = 1)], "
        f"ops = [(path = [], replace = {value})])",
    )


def change_keys(recording):
    env = Env(recording)
    try:
        return [k for k, _ in env.items("changes")]
    finally:
        env.close()


def plant(recording, db, key, value):
    env = Env(recording)
    env.put(db, key, value)
    env.close()


HOSTILE = {
    # A root pointer far outside the message.
    "bad_pointer": lambda tmp: framed(struct_ptr(1000, 2, 4)),
    # A far pointer into a segment that does not exist.
    "far_pointer": lambda tmp: framed(struct.pack("<Q", 2 | (5 << 3) | (7 << 32))),
    # A struct whose list field claims 2^29 - 1 pointer elements.
    "huge_list": lambda tmp: framed(struct_ptr(0, 3, 4) + b"\0" * 24 + list_ptr(3, 6, (1 << 29) - 1) + b"\0" * 24),
    # An inline-composite list of zero-size structs claiming ~2^30 elements.
    "amplification": lambda tmp: framed(
        struct_ptr(0, 3, 4) + b"\0" * 24 + list_ptr(3, 7, 0) + b"\0" * 24 + struct.pack("<Q", (2**30 - 1) << 2)
    ),
    "deep_nesting": lambda tmp, key=None: deep_change(tmp, 400, key),  # past kNestingLimit (256)
    "odd_size": lambda tmp: b"\x00" * 13,
    "empty": lambda tmp: b"",
    "segment_table_lies": lambda tmp: struct.pack("<II", 7, 100000) + b"\0" * 64,
    "random": lambda tmp: os.urandom(4096),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_change_record(recording, tmp_path, kind):
    key = change_keys(recording)[-1]  # the one last-change reads
    # deep_nesting agrees with its key, so it is its depth that is refused.
    plant(
        recording, "changes", key, HOSTILE[kind](tmp_path, key) if kind == "deep_nesting" else HOSTILE[kind](tmp_path)
    )
    for q in (["last-change", "sys.path"], ["history", "sys.path"], ["value", "sys.path", "--at", "5"]):
        for extra in ([], ["--json"]):
            r = spyrec(["query", "-r", "rec", *q, *extra], tmp_path)
            err = one_line_error(r)
            assert "damaged recording" in err
    one_line_error(spyrec(["replay", "-r", "rec", "--break-before", "last-change", "sys.path"], tmp_path, input="c\n"))


@pytest.mark.parametrize("kind", ["bad_pointer", "huge_list", "deep_nesting", "random"])
@pytest.mark.parametrize("db,key", [("meta", b"meta"), ("meta", b"ending"), ("watches", struct.pack(">I", 1))])
def test_hostile_meta_ending_watch_records(recording, tmp_path, kind, db, key):
    plant(recording, db, key, HOSTILE[kind](tmp_path))
    r = spyrec(["query", "-r", "rec", "info"], tmp_path)
    if r.returncode == 0:
        # A deep Change read as an Ending or a Watch: its deep value sits in
        # `ops`, a pointer neither of them reads, so it is a legal record.
        assert kind == "deep_nesting" and key in (b"ending", struct.pack(">I", 1)), r.stdout
    else:
        assert "damaged recording" in one_line_error(r)


def test_deep_but_legal_nesting_still_reads(recording, tmp_path):
    # 60 levels is within every limit: it must render, not fail. Planted as
    # sys.path's last change, so no recorded op has to apply to it after.
    watches = json.loads(spyrec(["query", "-r", "rec", "watches", "--json"], tmp_path).stdout)
    watch_id = next(w["id"] for w in watches if w["expr"] == "sys.path")
    key = [k for k in change_keys(recording) if struct.unpack(">IQ", k)[0] == watch_id][-1]
    plant(recording, "changes", key, deep_change(tmp_path, 60, key))
    r = spyrec(["query", "-r", "rec", "history", "sys.path"], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "[[[[[[" in r.stdout
