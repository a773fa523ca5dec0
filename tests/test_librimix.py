"""The LibriMix CSV reader: the CSV Asteroid reads for each task, relative paths, one exception for bad files."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from asteroid.data import LibriMix

from bssmask.data.librimix import (DataError, FiniteItems, check_split, list_mixtures, mixture_files, read_csv,
                                   split_csv)

HEADER = "mixture_ID,mixture_path,source_1_path,source_2_path,length\n"


def write_split(folder, paths_from, n: int = 2, length: int = 800):
    """``n`` mixtures of noise under ``folder`` and their CSV; paths relative to ``paths_from``, or absolute."""
    rng = np.random.default_rng(0)
    lines = []
    for k in range(n):
        sources = rng.standard_normal((2, length)).astype(np.float32) * 0.1
        row = [f"m{k}"]
        for sub, wav in (("mix_clean", sources.sum(0)), ("s1", sources[0]), ("s2", sources[1])):
            path = folder / sub / f"m{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, wav, 8000, subtype="FLOAT")
            row.append(str(path.relative_to(paths_from) if paths_from else path))
        lines.append(",".join([*row, str(length)]) + "\n")
    (folder / "mixture_dev_mix_clean.csv").write_text(HEADER + "".join(lines))
    return folder / "mixture_dev_mix_clean.csv"


@pytest.mark.parametrize("task", ["sep_clean", "sep_noisy", "enh_single", "enh_both"])
def test_split_csv_is_the_file_asteroid_reads(tmp_path, task):
    for kind in ("both", "clean", "single"):
        (tmp_path / f"mixture_dev_mix_{kind}.csv").write_text(HEADER + "m0,/a/m0.wav,/b/m0.wav,/c/m0.wav,8000\n")
    chosen = split_csv(tmp_path, task)
    kind = {"sep_clean": "clean", "sep_noisy": "both", "enh_single": "single", "enh_both": "both"}[task]
    assert chosen == tmp_path / f"mixture_dev_mix_{kind}.csv"
    assert str(chosen) == LibriMix(str(tmp_path), task, 8000, 2, segment=None).csv_path


def test_split_csv_names_what_is_missing(tmp_path):
    (tmp_path / "mixture_dev_mix_clean.csv").write_text(HEADER)
    with pytest.raises(DataError, match=r"no file with 'single' in its name, the CSV of task enh_single"):
        split_csv(tmp_path, "enh_single")
    with pytest.raises(ValueError, match="task: sep_dirty not in sep_clean, sep_noisy, enh_single, enh_both"):
        split_csv(tmp_path, "sep_dirty")


def test_relative_paths_are_relative_to_the_csv_folder(tmp_path, monkeypatch):
    """Every reader takes a relative path from the CSV's folder, whatever the working directory."""
    csv_path = write_split(tmp_path / "split", paths_from=tmp_path / "split")
    assert "\nm0,mix_clean/m0.wav,s1/m0.wav,s2/m0.wav,800\n" in csv_path.read_text()
    monkeypatch.chdir(tmp_path)
    assert check_split("split", 8000, 2) == csv_path.relative_to(tmp_path)
    assert list_mixtures(csv_path) == [(f"m{k}", [csv_path.parent / f"s{s}" / f"m{k}.wav" for s in (1, 2)])
                                       for k in range(2)]
    assert mixture_files(csv_path) == {f"m{k}": csv_path.parent / "mix_clean" / f"m{k}.wav" for k in range(2)}
    dataset = FiniteItems(LibriMix("split", "sep_clean", 8000, 2, segment=None))
    for k in range(2):
        mixture, sources = dataset[k]
        expected, _ = sf.read(csv_path.parent / "s2" / f"m{k}.wav", dtype="float32")
        torch.testing.assert_close(sources[1], torch.from_numpy(expected), rtol=0, atol=0)
        torch.testing.assert_close(mixture, sources.sum(0), rtol=0, atol=1e-6)


def test_absolute_paths_are_read_as_written(tmp_path):
    csv_path = write_split(tmp_path / "split", paths_from=None)
    dataset = LibriMix(str(tmp_path / "split"), "sep_clean", 8000, 2, segment=None)
    table = dataset.df
    assert FiniteItems(dataset).df is table
    assert check_split(tmp_path / "split", 8000, 2) == csv_path


def test_bad_lists_raise_the_one_data_error(tmp_path):
    (tmp_path / "cols.csv").write_text("mixture_ID,source_1_path\nm0,a.wav\n")
    (tmp_path / "empty.csv").write_text("mixture_ID,source_1_path,source_2_path\n")
    (tmp_path / "gone.csv").write_text("mixture_ID,mixture_path,source_1_path,source_2_path\nm0,mix.wav,a.wav,b.wav\n")
    (tmp_path / "folder").mkdir()
    cases = [(lambda: read_csv(tmp_path / "cols.csv"), r"cols.csv: missing column\(s\) source_2_path; found "),
             (lambda: list_mixtures(tmp_path / "empty.csv"), r"empty.csv: no mixtures listed$"),
             (lambda: list_mixtures(tmp_path / "gone.csv"), r"/a.wav: listed in .*gone.csv but no such file$"),
             (lambda: mixture_files(tmp_path / "gone.csv"), r"/mix.wav: listed in .*gone.csv as a mixture_path but"),
             (lambda: list_mixtures(tmp_path / "folder"), r"folder: expected subfolders s1/, s2/"),
             (lambda: list_mixtures(tmp_path / "nowhere"), r"nowhere: no such file or folder$"),
             (lambda: check_split(tmp_path / "folder", 8000, 2), r"folder: no file with 'clean' in its name")]
    for call, pattern in cases:
        with pytest.raises(DataError, match=pattern):
            call()


def test_non_finite_samples_name_the_file(tmp_path):
    csv_path = write_split(tmp_path, paths_from=None)
    wav, _ = sf.read(tmp_path / "s1" / "m1.wav", dtype="float32")
    wav[5] = np.inf
    sf.write(tmp_path / "s1" / "m1.wav", wav, 8000, subtype="FLOAT")
    dataset = FiniteItems(LibriMix(str(csv_path.parent), "sep_clean", 8000, 2, segment=None))
    dataset[0]
    with pytest.raises(DataError, match=rf"^{tmp_path / 's1' / 'm1.wav'}: NaN or infinite samples$"):
        dataset[1]
    assert os.path.isabs(dataset.df.iloc[1]["source_1_path"])
