"""`spyrec replay --break-before`: pdb opens before the culprit runs, with the old value."""

import os
import shutil

from _programs import REPO, spyrec


def test_replay_stops_before_the_insert_with_the_old_value(tmp_path):
    shutil.copytree(os.path.join(REPO, "samples"), tmp_path / "samples")
    assert spyrec(["run", "samples/syspath_demo.py"], tmp_path).returncode == 0
    r = spyrec(["replay", "--break-before", "last-change", "sys.path"], tmp_path, input="p sys.path[0]\nc\n")
    assert r.returncode == 0, r.stderr
    assert "stopped before CALL" in r.stderr
    assert "diverged" not in r.stderr
    assert 'sys.path.insert(0, "animals")' in r.stdout
    assert repr(str(tmp_path / "samples")) in r.stdout  # before the insert
    assert "sys.path[0] is now animals" in r.stdout  # and the run goes on


def test_recording_holds_only_the_programs_change(tmp_path):
    shutil.copytree(os.path.join(REPO, "samples"), tmp_path / "samples")
    assert spyrec(["run", "samples/syspath_demo.py"], tmp_path).returncode == 0
    r = spyrec(["query", "history", "sys.path"], tmp_path)
    assert r.returncode == 0
    assert "1 change," in r.stdout  # spyrec's own sys.path[0] setup is not a change


def test_replay_change_n_stops_at_the_nth_execution_of_a_culprit_that_runs_many_times(tmp_path):
    from _programs import write

    write(
        tmp_path,
        "app.py",
        """
        ITEMS = []
        for n in range(5):
            ITEMS.append(n * 10)                   # line 4: one culprit, five changes
        print("done", ITEMS)
    """,
    )
    assert spyrec(["run", "-o", "rec", "-w", "__main__.ITEMS", "app.py"], tmp_path).returncode == 0
    # Change 1 is ITEMS appearing (line 2); changes 2-6 are the appends.
    for n, before in ((2, []), (4, [0, 10]), (-1, [0, 10, 20, 30])):
        r = spyrec(
            ["replay", "-r", "rec", "--break-before", "change", "__main__.ITEMS", str(n)],
            tmp_path,
            input="p ITEMS\nc\n",
        )
        assert r.returncode == 0, r.stderr
        assert "diverged" not in r.stderr
        assert f"(Pdb) {before}" in r.stdout, (n, r.stdout)
        assert "done [0, 10, 20, 30, 40]" in r.stdout
