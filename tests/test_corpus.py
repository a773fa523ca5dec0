"""The corpus builder: LibriMix layout, exact mixtures, levels, disjoint splits, determinism."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from asteroid.data import LibriMix

from bssmask.data import DEFAULT_SOURCES, corpus

SMALL = corpus.CorpusConfig(n_train=12, n_dev=4, n_test=4, mix_length=1.5, max_duration=5.0,
                            split=(0.5, 0.25, 0.25), seed=3)


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
    """Two speaker folders of real speech: the bundled prompts cut in eight 1.25 s utterances each."""
    root = tmp_path_factory.mktemp("speakers")
    for name, clip in zip(("alpha", "beta"), DEFAULT_SOURCES):
        wav, rate = sf.read(clip, dtype="float32")
        (root / name / "sub").mkdir(parents=True)
        for i in range(8):
            folder = root / name / ("sub" if i % 2 else "")
            sf.write(folder / f"part{i}.wav", wav[i * 10000 : (i + 1) * 10000], rate)
        sf.write(root / name / "beep.wav", wav[: 2 * rate], rate)  # a "tone" name: skipped
        sf.write(root / name / "short.wav", wav[: rate // 2], rate)  # too short: skipped
    return root


@pytest.fixture(scope="module")
def built(source_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "Mix"
    metadata = corpus.build(corpus.folder_speakers(source_dir), out, SMALL)
    return out, metadata


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_librimix_layout_and_counts(built):
    out, metadata = built
    assert metadata == corpus.corpus_dir(out) / "metadata"
    for split, n in (("train", 12), ("dev", 4), ("test", 4)):
        rows = read_csv(metadata / f"mixture_{split}_mix_clean.csv")
        assert list(rows[0]) == ["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "length"]
        assert len(rows) == n == len({r["mixture_ID"] for r in rows})
        for sub in ("mix_clean", "s1", "s2"):
            assert len(list((metadata.parent / split / sub).glob("*.wav"))) == n
    info = json.loads((metadata.parent / "corpus.json").read_text())
    assert info["options"]["seed"] == 3


@pytest.mark.parametrize("split,length", [("train", 12000), ("test", 10000)])
def test_mixture_is_exact_sum_of_sources(built, split, length):
    _, metadata = built
    levels = {r["mixture_ID"]: float(r["level_db"]) for r in read_csv(metadata / f"sources_{split}.csv")}
    for row in read_csv(metadata / f"mixture_{split}_mix_clean.csv"):
        mix, rate = sf.read(row["mixture_path"], dtype="float32")
        s1, _ = sf.read(row["source_1_path"], dtype="float32")
        s2, _ = sf.read(row["source_2_path"], dtype="float32")
        assert rate == 8000 and len(mix) == int(row["length"]) == length
        np.testing.assert_array_equal(mix, s1 + s2)
        assert np.abs(mix).max() <= corpus.PEAK + 1e-4
        assert abs(levels[row["mixture_ID"]]) <= SMALL.max_level_db


def test_test_mixtures_are_full_utterances_at_the_drawn_level(built):
    _, metadata = built
    levels = {}
    for row in read_csv(metadata / "sources_test.csv"):
        assert row["speaker_1"] != row["speaker_2"]
        assert ";" not in row["utterances_1"] + row["utterances_2"]
        levels[row["mixture_ID"]] = float(row["level_db"])
    for row in read_csv(metadata / "mixture_test_mix_clean.csv"):
        s1, _ = sf.read(row["source_1_path"])
        s2, _ = sf.read(row["source_2_path"])
        # Both utterances were normalised to the same RMS, then set apart by the drawn level.
        measured = 10 * np.log10(np.mean(s1**2) / np.mean(s2**2))
        assert measured == pytest.approx(levels[row["mixture_ID"]], abs=0.01)


def test_splits_are_utterance_disjoint_and_skip_non_speech(built):
    _, metadata = built
    used = {}
    for split in corpus.SPLITS:
        utts = set()
        for row in read_csv(metadata / f"sources_{split}.csv"):
            utts |= set(row["utterances_1"].split(";")) | set(row["utterances_2"].split(";"))
        used[split] = utts
    assert not used["train"] & used["dev"] and not used["train"] & used["test"] and not used["dev"] & used["test"]
    everything = set().union(*used.values())
    assert not any("beep" in u or "short" in u for u in everything)


def test_deterministic_and_reused(built, source_dir, tmp_path):
    out, metadata = built
    again = corpus.build(corpus.folder_speakers(source_dir), tmp_path / "Mix", SMALL)
    for split in corpus.SPLITS:
        a = read_csv(metadata / f"mixture_{split}_mix_clean.csv")
        b = read_csv(again / f"mixture_{split}_mix_clean.csv")
        assert [r["mixture_ID"] for r in a] == [r["mixture_ID"] for r in b]
        first_a, _ = sf.read(a[0]["mixture_path"])
        first_b, _ = sf.read(b[0]["mixture_path"])
        np.testing.assert_array_equal(first_a, first_b)
    stamp = (metadata.parent / "corpus.json").stat().st_mtime_ns
    corpus.build(corpus.folder_speakers(source_dir), out, SMALL)  # same options: kept as is
    assert (metadata.parent / "corpus.json").stat().st_mtime_ns == stamp


def test_asteroid_librimix_reads_the_local_metadata(built, tmp_path):
    _, metadata = built
    dirs = {split: tmp_path / split for split in corpus.SPLITS}
    corpus.local_metadata(metadata, dirs)
    train = LibriMix(str(dirs["train"]), "sep_clean", 8000, 2, segment=1.0)
    mixture, sources = train[0]
    assert mixture.shape == (8000,) and sources.shape == (2, 8000)
    test = LibriMix(str(dirs["test"]), "sep_clean", 8000, 2, segment=None, return_id=True)
    mixture, sources, ids = test[0]
    assert "_".join(ids) == test.df.iloc[0]["mixture_ID"]
    assert mixture.shape[-1] == sources.shape[-1] == 10000


def test_errors_name_the_problem(source_dir, tmp_path):
    with pytest.raises(corpus.CorpusError, match="at least two speaker"):
        corpus.folder_speakers(source_dir / "alpha")
    with pytest.raises(corpus.CorpusError, match="no Asterisk prompts .*apt-get install asterisk-core-sounds-en-wav"):
        corpus.asterisk_speakers(tmp_path)
    with pytest.raises(corpus.CorpusError, match="split"):
        corpus.build(corpus.folder_speakers(source_dir), tmp_path / "x", corpus.CorpusConfig(split=(0.5, 0.5, 0.5)))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(corpus.CorpusError, match="not a corpus built here"):
        corpus.build(corpus.folder_speakers(source_dir), tmp_path / "taken", SMALL)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    with pytest.raises(corpus.CorpusError, match="mixture_train-360_mix_clean.csv"):
        corpus.local_metadata(tmp_path, {"train-360": tmp_path / "out"})


def test_asterisk_voices_merge_the_folders_of_one_voice(tmp_path):
    """The Debian layout (language links to voice folders) on a fake root: no installed voices needed."""
    root = tmp_path / "sounds"
    wav, rate = sf.read(DEFAULT_SOURCES[0], dtype="float32")
    for voice, files in (("en_US_f_Allison", 2), ("es_MX_f_Allison", 1), ("fr_CA_f_June", 1), ("it_IT_m_Carlo", 1),
                         ("ru", 1)):
        for k in range(files):
            (root / voice / "digits").mkdir(parents=True, exist_ok=True)
            sf.write(root / voice / "digits" / f"{k}.wav", wav[:rate], rate)
    for lang, voice in (("en", "en_US_f_Allison"), ("es", "es_MX_f_Allison"), ("fr", "fr_CA_f_June"),
                        ("it", "it_IT_m_Carlo")):
        (root / lang).symlink_to(root / voice)
    speakers = corpus.asterisk_speakers(root)
    assert {name: len(files) for name, files in speakers.items()} == {"allison": 3, "june": 1, "carlo": 1, "ru": 1}
    assert {p.parent.parent.name for p in speakers["allison"]} == {"en_US_f_Allison", "es_MX_f_Allison"}
    (root / "it").unlink()
    with pytest.raises(corpus.CorpusError, match=r"no Asterisk prompts for it; install them as root with "
                                                 r"`apt-get install asterisk-core-sounds-it-wav`"):
        corpus.asterisk_speakers(root)


@pytest.mark.voices
def test_installed_asterisk_voices_give_speakers_with_speech():
    speakers = corpus.asterisk_speakers()
    assert len(speakers) >= 2 and all(len(files) > 100 for files in speakers.values()), \
        {name: len(files) for name, files in speakers.items()}