"""Size: --max-size cuts recording cleanly, the LMDB map grows past its initial
64 MiB, and a full disk (or file size limit) gives one line on stderr and a
readable recording. Also concurrency: reading a recording being written, and
two recorders into one directory."""

import json
import os
import resource
import subprocess
import sys

import pytest
from _programs import env, spyrec, write

# Changes are stored as what changed (ops), so volume comes from big new
# values: each store writes a 100,000-character string.
BIG = """
    import sys
    STATE = ["%0200d" % i for i in range(4)]
    for i in range({n}):
        STATE[i % 4] = "%0100000d" % (i + 1000)
    print("done", flush=True)
"""


def info(tmp_path, rec):
    r = spyrec(["query", "-r", rec, "info", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def history(tmp_path, rec, expr="__main__.STATE"):
    r = spyrec(["query", "-r", str(rec), "history", expr, "--json"], tmp_path)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("size", ["4M", "4194304", "4m", "4MiB"])
def test_max_size_cuts_recording_and_the_program_goes_on(tmp_path, size):
    write(tmp_path, "app.py", BIG.format(n=400))
    r = spyrec(["run", "--max-size", size, "-o", "rec", "-w", "__main__.STATE", "app.py"], tmp_path)
    assert r.returncode == 0 and r.stdout == "done\n" and r.stderr == ""
    ending = info(tmp_path, "rec")["ending"]
    assert ending["recording_cut"] and ending["how"] == "exited"
    changes = history(tmp_path, "rec")
    assert 0 < len(changes) < 400
    assert ending["cut_at_seq"] == changes[-1]["seq"]
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))
    # The data file stays near the limit (records plus LMDB's pages).
    assert os.path.getsize(tmp_path / "rec" / "data.mdb") < 4 * 2**20 * 1.25
    assert "nothing after seq" in spyrec(["query", "-r", "rec", "info"], tmp_path).stdout


def test_max_size_keeps_exit_status(tmp_path):
    write(tmp_path, "app.py", BIG.format(n=200) + "    sys.exit(9)\n")
    r = spyrec(["run", "--max-size", "1M", "-o", "rec", "-w", "__main__.STATE", "app.py"], tmp_path)
    assert r.returncode == 9
    ending = info(tmp_path, "rec")["ending"]
    assert ending["recording_cut"] and ending["exit_status"] == 9


@pytest.mark.parametrize("size", ["0", "-5M", "ten", "5Q", ""])
def test_bad_max_size_is_usage_error(tmp_path, size):
    write(tmp_path, "app.py", "pass\n")
    r = spyrec(["run", "--max-size", size, "app.py"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--max-size" in r.stderr


def test_map_grows_past_its_initial_64_mib(tmp_path):
    write(tmp_path, "app.py", BIG.format(n=800))
    r = spyrec(["run", "-o", "rec", "-w", "__main__.STATE", "app.py"], tmp_path)
    # Past 100 MiB, the one line that says how large it is (and nothing else).
    assert r.returncode == 0 and r.stderr.startswith("spyrec: the recording takes ") and r.stderr.count("\n") == 1
    assert os.path.getsize(tmp_path / "rec" / "data.mdb") > 64 * 2**20
    assert not info(tmp_path, "rec")["ending"]["recording_cut"]
    r = spyrec(["query", "-r", "rec", "watches", "--json"], tmp_path)
    counts = {w["expr"]: w["changes"] for w in json.loads(r.stdout)}
    assert counts["__main__.STATE"] == 801  # the appearance, then 800


def _check_stopped_by_disk(tmp_path, r, rec, words):
    assert r.returncode == 0, r.stderr
    assert r.stdout == "done\n"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spyrec: ") and words in lines[0], r.stderr
    ending = info(tmp_path, str(rec))["ending"]
    assert ending["recording_cut"]
    changes = history(tmp_path, rec)
    assert changes and ending["cut_at_seq"] == changes[-1]["seq"]
    # No gap: a change after a dropped one could not be rebuilt from its ops.
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))


def test_file_size_limit_stops_recording_with_one_line(tmp_path):
    # ulimit -f: the same short writes as a full disk, without privileges.
    write(tmp_path, "app.py", BIG.format(n=400))

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (3 << 20, 3 << 20))

    r = subprocess.run(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "-w", "__main__.STATE", "app.py"],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    _check_stopped_by_disk(tmp_path, r, "rec", "file size limit")


def test_full_disk_stops_recording_with_one_line(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if m.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (the ulimit -f test covers the path)")
    try:
        write(tmp_path, "app.py", BIG.format(n=400))
        r = spyrec(["run", "-o", str(mnt / "rec"), "-w", "__main__.STATE", "app.py"], tmp_path)
        _check_stopped_by_disk(tmp_path, r, mnt / "rec", "the disk is full")
    finally:
        subprocess.run(["umount", str(mnt)])


RUNNING = """
    import sys, time
    for i in range(100):
        sys.path.insert(0, str(i))
    time.sleep(0.2)                 # > 2 batch intervals: all committed
    print("marker", flush=True)
    sys.stdin.readline()
    sys.path.insert(0, "last")
"""


def test_query_while_recording_sees_what_is_committed(tmp_path):
    write(tmp_path, "app.py", RUNNING)
    p = subprocess.Popen(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "app.py"],
        cwd=tmp_path,
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout.readline() == "marker\n"
        seen = [c["after"][0] for c in history(tmp_path, "rec", "sys.path")]
        assert seen == [str(i) for i in range(100)]
        assert info(tmp_path, "rec")["ending"] is None
        r = spyrec(["query", "-r", "rec", "last-change", "sys.path"], tmp_path)
        assert r.returncode == 0 and "'99'" in r.stdout
    finally:
        p.communicate("\n", timeout=60)
    assert p.returncode == 0
    assert history(tmp_path, "rec", "sys.path")[-1]["after"][0] == "last"


@pytest.mark.parametrize("extra", [[], ["--force"]])
def test_second_recorder_into_the_same_directory_is_refused(tmp_path, extra):
    write(tmp_path, "app.py", RUNNING)
    p = subprocess.Popen(
        [sys.executable, "-m", "spyrec", "run", "-o", "rec", "app.py"],
        cwd=tmp_path,
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout.readline() == "marker\n"
        write(tmp_path, "other.py", "import sys\nsys.path.insert(0, 'other')\n")
        r = spyrec(["run", *extra, "-o", "rec", "other.py"], tmp_path)
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert "already" in r.stderr
    finally:
        p.communicate("\n", timeout=60)
    seen = [c["after"][0] for c in history(tmp_path, "rec", "sys.path")]
    assert seen == [str(i) for i in range(100)] + ["last"]
