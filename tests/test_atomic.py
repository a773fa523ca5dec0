"""The atomic writer: a destination is either its old content or the complete new one."""

import os

import pytest

from bssmask import atomic


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
