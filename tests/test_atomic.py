"""Atomic writes: a destination is either its old content or the complete new one, with the permissions
the umask gives any new file."""

import os
import stat
import subprocess
import sys

import pytest

from bssmask import atomic
from bssmask.atomic import atomic_path, write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_follows_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "table.md", "| a |\n")
        with atomic_path(tmp_path / "model.bin") as tmp:
            with open(tmp, "wb") as handle:
                handle.write(b"\x00" * 16)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "table.md") == expected
    assert _mode(tmp_path / "model.bin") == expected
    assert (tmp_path / "table.md").read_text() == "| a |\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "table.md"]


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_path(tmp_path / "out.csv") as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_ablation_results_are_readable_by_others(tmp_path, speech_pair):
    import soundfile as sf

    for name, wav in zip("ab", speech_pair.numpy()):
        sf.write(tmp_path / f"{name}.wav", wav[:8000], 8000)
    out = tmp_path / "abl"
    proc = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$0" -m bssmask.cli ablate "$@"', sys.executable,
         "--sources", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--masks", "ibm", "--methods", "nearest",
         "--spaces", "cartesian", "--upsampled", "mask", "--out", str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.iterdir())
    assert [p.name for p in files] == ["ablation.csv", "ablation.json", "ablation.md", "ablation.png"]
    assert all(_mode(p) == 0o644 for p in files), {p.name: oct(_mode(p)) for p in files}


def test_write_text_replaces_the_destination_by_a_rename(tmp_path, monkeypatch):
    dest = tmp_path / "sub" / "result.json"
    renames = []
    replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: (renames.append((src, dst)), replace(src, dst)))
    atomic.write_text(dest, '{"sdr": 1.5}')  # creates the missing folder too
    assert dest.read_text() == '{"sdr": 1.5}'
    (src, dst), = renames
    assert os.path.dirname(src) == str(dest.parent) and os.path.basename(src).startswith(".result.json.")
    assert src.endswith(".tmp") and os.fspath(dst) == os.fspath(dest)
    assert os.listdir(dest.parent) == ["result.json"]


def test_destination_untouched_until_the_writer_finishes(tmp_path):
    dest = tmp_path / "table.csv"
    dest.write_text("old,complete\n")
    with atomic.atomic_path(dest) as tmp:
        assert os.fspath(tmp) != os.fspath(dest)
        with open(tmp, "w") as handle:
            handle.write("new,half")
            handle.flush()
            assert dest.read_text() == "old,complete\n"  # a reader now sees the old file
        with open(tmp, "a") as handle:
            handle.write("-written\n")
    assert dest.read_text() == "new,half-written\n"
    assert sorted(os.listdir(tmp_path)) == ["table.csv"]


@pytest.mark.parametrize("existing", [True, False])
def test_an_interrupted_write_leaves_no_partial_file(tmp_path, existing):
    dest = tmp_path / "model.pth"
    if existing:
        dest.write_text("previous model")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(dest) as tmp:
            with open(tmp, "w") as handle:
                handle.write("partial")
            raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == (["model.pth"] if existing else [])  # no .tmp file left
    if existing:
        assert dest.read_text() == "previous model"


def test_output_folder_accepts_a_folder_or_nothing_and_refuses_a_file(tmp_path):
    assert atomic.output_folder(tmp_path) == tmp_path
    assert atomic.output_folder(str(tmp_path / "new")) == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # created on the first write, not here
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(ValueError) as err:
        atomic.output_folder(tmp_path / "taken")
    assert str(err.value) == f"{tmp_path / 'taken'}: exists and is not a folder; give a folder for the results"


def test_folder_replaced_only_when_complete_and_abandoned_writes_removed(tmp_path):
    import fcntl

    dest = tmp_path / "corpus"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic.atomic_folder(dest) as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"] and (dest / "old.txt").read_text() == "old"
    # A write killed midway (no process holds its lock) is removed; one that a process holds is left to it.
    abandoned, held = tmp_path / ".corpus.tmp-1", tmp_path / ".corpus.tmp-2"
    for folder in (abandoned, held):
        folder.mkdir()
        (folder / "part.txt").write_text("part")
    with open(tmp_path / ".corpus.tmp-2.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with atomic.atomic_folder(dest) as tmp:
            (tmp / "new.txt").write_text("complete")
        assert sorted(p.name for p in tmp_path.iterdir()) == [".corpus.tmp-2", ".corpus.tmp-2.lock", "corpus"]
    assert [p.name for p in dest.iterdir()] == ["new.txt"] and (dest / "new.txt").read_text() == "complete"
