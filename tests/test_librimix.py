"""The LibriMix CSV reader (the CSV Asteroid reads for each task, relative paths, one exception for bad files), and
the LibriMix recipe on LibriMix as its generator lays it out: Libri3Mix, 16 kHz, max mode."""

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from asteroid.data import LibriMix

from bssmask.data.librimix import (DataError, FiniteItems, check_split, list_mixtures, mixture_files, read_csv,
                                   split_csv)
from bssmask.model_files import load_model
from bssmask.data import asterisk_voices
from recipe_helpers import RECIPE, copy_recipe, read_rows, run

HEADER = "mixture_ID,mixture_path,source_1_path,source_2_path,length\n"


def write_split(folder, paths_from, n: int = 2, length: int = 800, n_src: int = 2, name="m{k}"):
    """``n`` mixtures of ``n_src`` noise sources under ``folder`` (files ``name.format(k=k)``) and their CSV;
    paths relative to ``paths_from``, or absolute."""
    rng = np.random.default_rng(0)
    header = ["mixture_ID", "mixture_path", *(f"source_{j + 1}_path" for j in range(n_src)), "length"]
    lines = []
    for k in range(n):
        sources = rng.standard_normal((n_src, length)).astype(np.float32) * 0.1
        row = [name.format(k=k)]
        for sub, wav in (("mix_clean", sources.sum(0)), *((f"s{j + 1}", s) for j, s in enumerate(sources))):
            path = folder / sub / f"{row[0]}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, wav, 8000, subtype="FLOAT")
            row.append(str(path.relative_to(paths_from) if paths_from else path))
        lines.append(",".join([*row, str(length)]) + "\n")
    (folder / "mixture_dev_mix_clean.csv").write_text(",".join(header) + "\n" + "".join(lines))
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
    with pytest.raises(ValueError, match="unknown task 'sep_dirty'; choose from sep_clean, sep_noisy, enh_single, enh_both"):
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


def test_ids_of_three_sources(tmp_path):
    """Items with ids end with the file name's parts, as Asteroid's for two sources (its own fail for three)."""
    csv_path = write_split(tmp_path, paths_from=None, n_src=3, name="a{k}_b{k}_c{k}")
    with pytest.raises(ValueError, match="too many values to unpack"):
        LibriMix(str(tmp_path), "sep_clean", 8000, 3, segment=None, return_id=True)[0]
    dataset = FiniteItems(LibriMix(str(tmp_path), "sep_clean", 8000, 3, segment=None, return_id=True))
    for k in range(2):
        mixture, sources, ids = dataset[k]
        assert ids == [f"a{k}", f"b{k}", f"c{k}"] and sources.shape == (3, 800)
        torch.testing.assert_close(mixture, sources.sum(0), rtol=0, atol=1e-6)
    assert check_split(tmp_path, 8000, 3) == csv_path
    two = FiniteItems(LibriMix(str(write_split(tmp_path / "two", None, name="x{k}_y{k}").parent), "sep_clean", 8000, 2,
                               segment=None, return_id=True))
    assert two[1][2] == LibriMix(str(tmp_path / "two"), "sep_clean", 8000, 2, segment=None, return_id=True)[1][2]


def test_a_split_needs_mixtures_as_long_as_the_segment(tmp_path):
    """check_split counts the mixtures Asteroid keeps for a segment (length >= int(segment * rate)) against the
    number needed: one to validate, a batch to train."""
    csv_path = write_split(tmp_path, None, n=3, length=800)  # 0.1 s each
    for segment, kept in ((0.1, 3), (0.1001, 3), (0.1002, 0)):
        assert len(LibriMix(str(tmp_path), "sep_clean", 8000, 2, segment=segment)) == kept
    assert check_split(tmp_path, 8000, 2, segment=0.1001, min_mixtures=3) == csv_path
    cases = [((0.1002, 1), r"mixture_dev_mix_clean.csv: all 3 mixtures are shorter than the 0.1002 s segment "
                           r"\(the longest is 0.10 s\); lower --segment to 0.10 or less$"),
             ((0.1, 4), r"mixture_dev_mix_clean.csv: 3 mixtures of at least the 0.1 s segment, fewer than a batch "
                        r"of 4; lower --batch_size to 3, or --segment, or list more mixtures$"),
             ((None, 4), r"mixture_dev_mix_clean.csv: 3 mixtures, fewer than a batch of 4; lower --batch_size to 3, "
                         r"or list more mixtures$")]
    for (segment, needed), pattern in cases:
        with pytest.raises(DataError, match=pattern):
            check_split(tmp_path, 8000, 2, segment=segment, min_mixtures=needed)


def test_bad_lists_raise_the_one_data_error(tmp_path):
    (tmp_path / "cols.csv").write_text("mixture_ID,source_1_path\nm0,a.wav\n")
    (tmp_path / "empty.csv").write_text("mixture_ID,source_1_path,source_2_path\n")
    (tmp_path / "blank.csv").write_text("")
    (tmp_path / "gone.csv").write_text("mixture_ID,mixture_path,source_1_path,source_2_path\nm0,mix.wav,a.wav,b.wav\n")
    (tmp_path / "folder").mkdir()
    cases = [(lambda: read_csv(tmp_path / "cols.csv"), r"cols.csv: missing column\(s\) source_2_path; found "),
             (lambda: list_mixtures(tmp_path / "empty.csv"), r"empty.csv: no mixtures listed$"),
             (lambda: list_mixtures(tmp_path / "blank.csv"), r"blank.csv: empty file; a mixture list has a header "
                                                             r"row \(mixture_ID, source_1_path, source_2_path\)"),
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


# --- LibriMix as its generator writes it, made of the recorded voices --------------------------------------------

#: Voices of the generated mixtures (source k of a mixture is voice k).
VOICES = ("allison", "june", "carlo")
#: Utterance lengths (seconds) of a long and a short mixture; the tests' segment is 1.0 s.
LONG, SHORT = (1.2, 2.0), (0.5, 0.9)
#: Mixtures of each split, long (True) or short (False): dev is mostly shorter than the segment.
SPLITS = {"train-360": (True, True), "dev": (True, False, False), "test": (True, False)}
MIX_TYPES = ("mix_clean", "mix_both", "mix_single")


def _utterances(rate: int):
    """Per voice, iterators of ``(name, float32 [T] at rate)``: long utterances and short ones (sorted files)."""
    from torchaudio.functional import resample

    def pick(files, bounds):
        for path in files:
            if bounds[0] <= sf.info(str(path)).duration <= bounds[1]:
                wav, file_rate = sf.read(path, dtype="float32")
                wav = resample(torch.from_numpy(wav), file_rate, rate).numpy()
                yield path.stem.replace("_", "-"), wav * (0.05 / np.sqrt(np.mean(wav**2)))

    speakers = asterisk_voices.asterisk_speakers(VOICES)
    return {True: [pick(speakers[v], LONG) for v in VOICES], False: [pick(speakers[v], SHORT) for v in VOICES]}


def write_librimix(storage, n_src: int = 2, rate: int = 8000, mode: str = "min") -> Path:
    """A tiny Libri<n_src>Mix of :data:`SPLITS` under ``storage``, laid out and listed as LibriMix's generator
    writes it; returns its ``metadata`` folder.

    ``<split>/{s1,...,mix_clean,mix_both,mix_single,noise}/<id>.wav`` (16-bit, absolute paths in the CSVs), and
    ``metadata/mixture_<split>_<type>.csv`` with ``metrics_<split>_<type>.csv`` beside them. Sources are fitted
    to the shortest (``min``) or zero-padded to the longest (``max``), noise included.
    """
    root = Path(storage) / f"Libri{n_src}Mix" / f"wav{rate // 1000}k" / mode
    metadata = root / "metadata"
    metadata.mkdir(parents=True)
    rng, voices = np.random.default_rng(0), _utterances(rate)
    for split, kinds in SPLITS.items():
        tables = {t: [] for t in MIX_TYPES}
        for long in kinds:
            names, wavs = zip(*(next(voices[long][k]) for k in range(n_src)))
            length = (min if mode == "min" else max)(len(w) for w in wavs)
            noise = rng.standard_normal(max(len(w) for w in wavs)).astype(np.float32) * 0.01
            signals = [np.pad(w, (0, max(0, length - len(w))))[:length] for w in (*wavs, noise)]
            mixture_id = "_".join(names)
            paths = {}
            for sub, wav in {**{f"s{k + 1}": s for k, s in enumerate(signals[:n_src])}, "noise": signals[-1],
                             "mix_clean": sum(signals[:n_src]), "mix_both": sum(signals),
                             "mix_single": signals[0] + signals[-1]}.items():
                paths[sub] = root / split / sub / f"{mixture_id}.wav"
                paths[sub].parent.mkdir(parents=True, exist_ok=True)
                sf.write(paths[sub], wav, rate)
            sources = {f"source_{k + 1}_path": paths[f"s{k + 1}"] for k in range(n_src)}
            listed = {"mix_clean": sources, "mix_both": {**sources, "noise_path": paths["noise"]},
                      "mix_single": {"source_1_path": paths["s1"], "noise_path": paths["noise"]}}
            for kind in MIX_TYPES:
                tables[kind].append({"mixture_ID": mixture_id, "mixture_path": paths[kind], **listed[kind],
                                     "length": length})
        for kind, rows in tables.items():
            with open(metadata / f"mixture_{split}_{kind}.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            snr_columns = [c.replace("_path", "_SNR") for c in rows[0] if c.endswith("_path") and c != "mixture_path"]
            (metadata / f"metrics_{split}_{kind}.csv").write_text(
                ",".join(["mixture_ID", *snr_columns]) + "\n"
                + "".join(f"{row['mixture_ID']}{',0.0' * len(snr_columns)}\n" for row in rows))
    return metadata


@pytest.fixture(scope="module")
def librimix_recipe(tmp_path_factory):
    """A copy of recipes/librimix beside one of recipes/asterisk2mix and recipes/common (whose scripts it runs)."""
    parent = tmp_path_factory.mktemp("recipes")
    copy_recipe(parent)
    shutil.copytree(RECIPE.parent / "librimix", parent / "librimix", ignore=shutil.ignore_patterns("exp", "data"))
    return parent / "librimix"


#: LibriMix as users have it: (n_src, sample rate, mode).
VARIANTS = {"libri3mix_8k_min": (3, 8000, "min"), "libri2mix_16k_max": (2, 16000, "max")}


@pytest.mark.voices
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_librimix_recipe_stages_0_to_2(librimix_recipe, tmp_path, variant):
    """run.sh stages 0-2 on a LibriMix tree whose dev set is mostly shorter than the segment: the one dev mixture
    long enough validates every epoch (val_loss logged, early stopping on), the test mixtures are scored."""
    n_src, rate, mode = VARIANTS[variant]
    metadata = write_librimix(tmp_path, n_src, rate, mode)
    proc = run(librimix_recipe, "./run.sh", "--storage_dir", str(tmp_path), "--mode", mode, "--stop_stage", "2",
               "--n_src", str(n_src), "--sample_rate", str(rate), "--tag", variant, "--epochs", "1",
               "--segment", "1.0", "--batch_size", "2", "--num_workers", "0", "--early_stop", "true",
               "--masker_kwargs", "{bn_chan: 16, hid_size: 16, n_repeats: 1}", "--progress_bar", "false",
               "--logger", "csv", "--n_save_ex", "1")
    assert "Drop 2 utterances from 3 (shorter than 1.0 seconds)" in proc.stdout
    data = librimix_recipe / "data" / "wav8k" / "min"
    assert sorted(p.name for p in (data / "dev").iterdir()) == sorted(f"mixture_dev_{kind}.csv" for kind in MIX_TYPES)
    copied = data / "dev" / "mixture_dev_mix_both.csv"
    assert copied.read_bytes() == (metadata / "mixture_dev_mix_both.csv").read_bytes()
    exp = librimix_recipe / "exp" / variant
    logged = [row for row in read_rows(exp / "logs" / "metrics.csv") if row["val_loss"]]
    assert len(logged) == 1 and np.isfinite(float(logged[0]["val_loss"]))
    model = load_model(exp / "best_model.pth")
    mixture, _ = sf.read(read_rows(metadata / "mixture_test_mix_clean.csv")[0]["mixture_path"], dtype="float32")
    with torch.no_grad():
        assert model(torch.from_numpy(mixture)[None]).shape == (1, n_src, len(mixture))
    assert model.sample_rate == rate
    rows = read_rows(exp / "eval" / "metrics.csv")
    test_ids = [row["mixture_ID"] for row in read_rows(metadata / "mixture_test_mix_clean.csv")]
    assert [row["mixture_ID"] for row in rows] == test_ids
    assert [int(row["length"]) for row in rows] == [sf.info(p).frames for p in (
        row["mixture_path"] for row in read_rows(metadata / "mixture_test_mix_clean.csv"))]
    assert all(np.isfinite(float(row["si_sdr"])) for row in rows)
    example = exp / "eval" / "examples" / test_ids[0]
    assert sorted(p.name for p in example.iterdir()) == sorted(
        ["mixture.wav", *(f"s{k + 1}{end}.wav" for k in range(n_src) for end in ("", "_estimate"))])
