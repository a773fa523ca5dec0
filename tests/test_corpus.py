"""The corpus builder: LibriMix layout, exact mixtures, levels, disjoint splits, held-out voices, determinism."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from asteroid.data import LibriMix

from bssmask.audio import AudioError, read_mono
from bssmask.data import DEFAULT_SOURCES, asterisk_voices, corpus, speech
from bssmask.data.corpus_options import ALL_SPLITS, SPLITS, CorpusConfig, CorpusError
from recipe_helpers import RECIPE

SMALL = CorpusConfig(n_train=12, n_dev=4, n_test=4, mix_length=1.5, max_duration=5.0,
                     split=(0.5, 0.25, 0.25), seed=3, n_test_same=2)
#: SMALL with held-out voices: two for test_unseen, one for dev_unseen.
HELD = CorpusConfig(**{**SMALL.__dict__, "voices": ("alpha", "beta"), "test_unseen_voices": ("gamma", "delta"),
                       "dev_unseen_voices": ("epsilon",), "n_test_unseen": 6, "n_dev_unseen": 4})


def write_speaker(folder, clip, n: int, offset: int = 0):
    """``n`` utterances of 1.25 s cut from a bundled prompt (from ``offset`` samples on), some in a subfolder,
    and two files that are not used: a "tone" name and a too short one."""
    wav, rate = sf.read(clip, dtype="float32")
    (folder / "sub").mkdir(parents=True)
    for i in range(n):
        sf.write(folder / ("sub" if i % 2 else "") / f"part{i}.wav", wav[offset + i * 10000 : offset + (i + 1) * 10000],
                 rate)
    sf.write(folder / "beep.wav", wav[: 2 * rate], rate)  # a "tone" name: skipped
    sf.write(folder / "short.wav", wav[: rate // 2], rate)  # too short: skipped


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
    """Two speaker folders of real speech: the bundled prompts cut in eight 1.25 s utterances each."""
    root = tmp_path_factory.mktemp("speakers")
    for name, clip in zip(("alpha", "beta"), DEFAULT_SOURCES):
        write_speaker(root / name, clip, 8)
    return root


@pytest.fixture(scope="module")
def five_voices(source_dir, tmp_path_factory):
    """``source_dir`` and three more speaker folders (gamma and delta with four utterances, epsilon with three)."""
    root = tmp_path_factory.mktemp("five")
    for name in ("alpha", "beta"):
        os.symlink(source_dir / name, root / name)
    for name, clip, n, offset in (("gamma", DEFAULT_SOURCES[0], 4, 5000), ("delta", DEFAULT_SOURCES[1], 4, 5000),
                                  ("epsilon", DEFAULT_SOURCES[0], 3, 2500)):
        write_speaker(root / name, clip, n, offset)
    return root


@pytest.fixture(scope="module")
def built_held(five_voices, tmp_path_factory):
    return corpus.build(speech.folder_speakers(five_voices), tmp_path_factory.mktemp("held") / "Mix", HELD)


@pytest.fixture(scope="module")
def built(source_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "Mix"
    metadata = corpus.build(speech.folder_speakers(source_dir), out, SMALL)
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
    for split in SPLITS:
        utts = set()
        for row in read_csv(metadata / f"sources_{split}.csv"):
            utts |= set(row["utterances_1"].split(";")) | set(row["utterances_2"].split(";"))
        used[split] = utts
    assert not used["train"] & used["dev"] and not used["train"] & used["test"] and not used["dev"] & used["test"]
    everything = set().union(*used.values())
    assert not any("beep" in u or "short" in u for u in everything)


def test_deterministic_and_reused(built, source_dir, tmp_path):
    out, metadata = built
    again = corpus.build(speech.folder_speakers(source_dir), tmp_path / "Mix", SMALL)
    for split in SPLITS:
        a = read_csv(metadata / f"mixture_{split}_mix_clean.csv")
        b = read_csv(again / f"mixture_{split}_mix_clean.csv")
        assert [r["mixture_ID"] for r in a] == [r["mixture_ID"] for r in b]
        first_a, _ = sf.read(a[0]["mixture_path"])
        first_b, _ = sf.read(b[0]["mixture_path"])
        np.testing.assert_array_equal(first_a, first_b)
    stamp = (metadata.parent / "corpus.json").stat().st_mtime_ns
    corpus.build(speech.folder_speakers(source_dir), out, SMALL)  # same options: kept as is
    assert (metadata.parent / "corpus.json").stat().st_mtime_ns == stamp


def test_asteroid_librimix_reads_the_local_metadata(built, tmp_path):
    _, metadata = built
    dirs = {split: tmp_path / split for split in SPLITS}
    corpus.local_metadata(metadata, dirs)
    train = LibriMix(str(dirs["train"]), "sep_clean", 8000, 2, segment=1.0)
    mixture, sources = train[0]
    assert mixture.shape == (8000,) and sources.shape == (2, 8000)
    test = LibriMix(str(dirs["test"]), "sep_clean", 8000, 2, segment=None, return_id=True)
    mixture, sources, ids = test[0]
    assert "_".join(ids) == test.df.iloc[0]["mixture_ID"]
    assert mixture.shape[-1] == sources.shape[-1] == 10000


def test_errors_name_the_problem(source_dir, tmp_path):
    with pytest.raises(CorpusError, match="at least two speaker"):
        speech.folder_speakers(source_dir / "alpha")
    with pytest.raises(CorpusError, match="allison not installed.*apt-get install asterisk-core-sounds-en-wav "
                                                 "asterisk-core-sounds-es-wav"):
        asterisk_voices.asterisk_speakers(["allison"], tmp_path)
    with pytest.raises(CorpusError, match="split"):
        corpus.build(speech.folder_speakers(source_dir), tmp_path / "x", CorpusConfig(split=(0.5, 0.5, 0.5)))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="not a corpus built here"):
        corpus.build(speech.folder_speakers(source_dir), tmp_path / "taken", SMALL)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    with pytest.raises(CorpusError, match="mixture_train-360_mix_clean.csv"):
        corpus.local_metadata(tmp_path, {"train-360": tmp_path / "out"})


def speakers_of(metadata, split):
    """``[(speaker_1, speaker_2, utterances_1, utterances_2)]`` of a split's mixtures."""
    return [(r["speaker_1"], r["speaker_2"], r["utterances_1"], r["utterances_2"])
            for r in read_csv(metadata / f"sources_{split}.csv")]


def test_held_out_voices_are_in_no_training_or_validation_mixture(built_held):
    metadata = built_held
    voices = {split: {v for row in speakers_of(metadata, split) for v in row[:2]} for split in ALL_SPLITS}
    assert voices["train"] == voices["dev"] == voices["test"] == {"alpha", "beta"}
    assert voices["test_unseen"] == {"gamma", "delta"}
    assert not voices["test_unseen"] & (voices["train"] | voices["dev"] | voices["dev_unseen"])
    recorded = {"train": ["alpha", "beta"], "dev": ["alpha", "beta"], "test": ["alpha", "beta"],
                "test_unseen": ["delta", "gamma"], "dev_unseen": ["alpha", "beta", "epsilon"],
                "test_same": ["alpha", "beta"]}
    assert json.loads((metadata.parent / "speakers.json").read_text()) == {
        split: {"recorded": names, "transformed": [], "synthetic": []} for split, names in recorded.items()}
    # With one held-out voice, dev_unseen pairs it with a seen voice's validation utterance.
    dev_utterances = {u for row in speakers_of(metadata, "dev") for u in row[2].split(";") + row[3].split(";")}
    test_utterances = {u for row in speakers_of(metadata, "test") for u in row[2:]}
    for first, second, _, utterance in speakers_of(metadata, "dev_unseen"):
        assert first == "epsilon" and second in ("alpha", "beta") and utterance in dev_utterances
    # test_same: two different test utterances of one seen voice.
    rows = speakers_of(metadata, "test_same")
    assert len(rows) == HELD.n_test_same
    for first, second, utt_1, utt_2 in rows:
        assert first == second and utt_1 != utt_2 and {utt_1, utt_2} <= test_utterances
    for split in ("test_unseen", "dev_unseen", "test_same"):
        mixtures = read_csv(metadata / f"mixture_{split}_mix_clean.csv")
        assert len(mixtures) == getattr(HELD, f"n_{split}")
        mix, _ = sf.read(mixtures[0]["mixture_path"], dtype="float32")
        s1, _ = sf.read(mixtures[0]["source_1_path"], dtype="float32")
        s2, _ = sf.read(mixtures[0]["source_2_path"], dtype="float32")
        np.testing.assert_array_equal(mix, s1 + s2)


def test_held_out_test_sets_leave_the_other_splits_as_they_were(built_held, five_voices, tmp_path):
    """The seen-voice splits of a corpus with held-out voices are those of a corpus of the seen voices alone."""
    seen = {name: files for name, files in speech.folder_speakers(five_voices).items() if name in ("alpha", "beta")}
    plain = corpus.build(seen, tmp_path / "Mix", SMALL)
    for split in SPLITS:
        assert read_csv(plain / f"sources_{split}.csv") == read_csv(built_held / f"sources_{split}.csv")
        first_plain = read_csv(plain / f"mixture_{split}_mix_clean.csv")[0]
        first_held = read_csv(built_held / f"mixture_{split}_mix_clean.csv")[0]
        np.testing.assert_array_equal(sf.read(first_plain["mixture_path"])[0], sf.read(first_held["mixture_path"])[0])


def test_training_only_voices_are_heard_in_training_alone(five_voices, tmp_path):
    """All usable utterances of a training-only voice go to train; dev and test are those of a corpus without it."""
    speakers = speech.folder_speakers(five_voices)
    plain = corpus.build({name: speakers[name] for name in ("alpha", "beta")}, tmp_path / "Plain", SMALL)
    extra = CorpusConfig(**{**SMALL.__dict__, "voices": ("alpha", "beta"), "train_voices": ("gamma", "delta")})
    metadata = corpus.build(speakers, tmp_path / "Mix", extra)
    voices = {split: {v for row in speakers_of(metadata, split) for v in row[:2]} for split in SPLITS}
    assert voices["train"] == {"alpha", "beta", "gamma", "delta"}
    assert voices["dev"] == voices["test"] == {"alpha", "beta"}
    for split in ("dev", "test", "test_same"):
        assert read_csv(plain / f"sources_{split}.csv") == read_csv(metadata / f"sources_{split}.csv")
    utterances = json.loads((metadata.parent / "corpus.json").read_text())["utterances"]
    assert utterances["train"]["gamma"] == utterances["train"]["delta"] == 4  # all four, none kept for dev or test
    assert "gamma" not in utterances["dev"] and "gamma" not in utterances["test"]
    with pytest.raises(CorpusError, match="alpha given more than once"):
        CorpusConfig(**{**extra.__dict__, "train_voices": ("alpha",)}).validate()


def test_a_stereo_recording_is_read_as_the_mean_of_its_channels(tmp_path):
    """KTuberling's words are partly stereo: the corpus reads them as mono; other readers refuse them."""
    left, rate = sf.read(DEFAULT_SOURCES[0], dtype="float32")
    right = np.roll(left, 100)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), rate, subtype="FLOAT")
    data, _ = read_mono(tmp_path / "stereo.wav", downmix=True)
    np.testing.assert_allclose(data, (left + right) / 2, atol=1e-7)
    with pytest.raises(AudioError, match="stereo.wav: expected mono audio, found 2 channels"):
        read_mono(tmp_path / "stereo.wav")


def test_a_voice_with_too_few_utterances_stops_the_build(five_voices, tmp_path):
    speakers = speech.folder_speakers(five_voices)
    speakers["epsilon"] = [f for f in speakers["epsilon"] if f.name.startswith("part")][:2]
    with pytest.raises(CorpusError, match=r"^voice epsilon: 2 usable utterances .*needs 3$"):
        corpus.build(speakers, tmp_path / "Mix", HELD)
    with pytest.raises(CorpusError, match=r"voice 'zeta': not among the speakers found"):
        corpus.build(speakers, tmp_path / "Mix", CorpusConfig(**{**HELD.__dict__, "voices": ("alpha", "zeta")}))
    with pytest.raises(CorpusError, match="gamma given more than once"):
        CorpusConfig(**{**HELD.__dict__, "dev_unseen_voices": ("gamma",)}).validate()
    assert not (tmp_path / "Mix").exists()


def test_data_stage_stops_with_one_line_when_a_voice_is_missing(source_dir, tmp_path):
    """prepare_data.py with held-out voices that the speech folder lacks: exit 2, one line naming the voice, no data."""
    proc = subprocess.run(
        [sys.executable, "local/prepare_data.py", "--conf", "conf.yml", "--conf", "local/quick.yml",
         "--storage_dir", str(tmp_path / "corpus"), "--source_dir", str(source_dir), "--voices", "[alpha, beta]",
         "--train_dir", str(tmp_path / "train")],
        cwd=RECIPE, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("prepare_data.py: error: voice 'menardi': not among "
                                                                   "the speakers found (alpha, beta)"), proc.stderr
    assert not (tmp_path / "corpus").exists() and not (tmp_path / "train").exists()


def test_missing_asterisk_voices_name_their_packages(tmp_path):
    """A voice read from a language link is not read: the link is another voice's (here June's)."""
    (tmp_path / "fr_CA_f_June").mkdir()
    sf.write(tmp_path / "fr_CA_f_June" / "hello.wav", np.zeros(8000, dtype=np.float32), 8000)
    os.symlink(tmp_path / "fr_CA_f_June", tmp_path / "fr")
    assert asterisk_voices.missing_packages(["june", "armelle", "menardi"], tmp_path) == [
        "asterisk-prompt-fr-armelle", "asterisk-prompt-it-menardi-wav"]
    with pytest.raises(CorpusError, match=r"voice\(s\) armelle, menardi not installed.*`apt-get install "
                                                 r"asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav`"):
        asterisk_voices.asterisk_speakers(["june", "armelle", "menardi"], tmp_path)
    with pytest.raises(CorpusError, match="unknown voice 'nobody'; known voices: allison, june"):
        asterisk_voices.missing_packages(["nobody"], tmp_path)
    # Installed: a real folder "fr" of GSM files, and "digits/fr" beside it.
    os.unlink(tmp_path / "fr")
    (tmp_path / "fr").mkdir()
    (tmp_path / "digits" / "fr").mkdir(parents=True)
    for path in (tmp_path / "fr" / "bonjour.gsm", tmp_path / "digits" / "fr" / "1.gsm"):
        sf.write(path, np.zeros(1600, dtype=np.float32), 8000, format="RAW", subtype="GSM610")
    speakers = asterisk_voices.asterisk_speakers(["june", "armelle"], tmp_path)
    assert speakers == {"june": [tmp_path / "fr_CA_f_June" / "hello.wav"],
                        "armelle": [tmp_path / "digits" / "fr" / "1.gsm", tmp_path / "fr" / "bonjour.gsm"]}


def test_gsm_files_read_to_their_length_and_signal(tmp_path):
    """Raw GSM 6.10 (33 bytes per 160 samples at 8 kHz): read to the written length, close to the speech written."""
    wav, _ = sf.read(DEFAULT_SOURCES[0], dtype="float32")
    speech = wav[8000:16000]
    path = tmp_path / "speech.gsm"
    sf.write(path, speech, 8000, format="RAW", subtype="GSM610")
    assert path.stat().st_size == 8000 // 160 * 33
    decoded, rate = read_mono(path)
    assert rate == 8000 and decoded.shape == (8000,)
    snr = 10 * np.log10(np.sum(speech**2) / np.sum((decoded - speech) ** 2))
    assert snr > 12, snr  # a lossy codec, but the same speech


@pytest.mark.skipif(not (asterisk_voices.ASTERISK_ROOT / "fr").is_dir()
                    or (asterisk_voices.ASTERISK_ROOT / "fr").is_symlink(),
                    reason="asterisk-prompt-fr-armelle not installed")
def test_installed_gsm_prompts_read_to_the_length_of_their_frames():
    files = asterisk_voices.asterisk_speakers(["armelle"])["armelle"]
    assert len(files) > 100 and all(f.suffix == ".gsm" for f in files)
    for path in files[:20]:
        data, rate = read_mono(path)
        assert rate == 8000 and len(data) == path.stat().st_size // 33 * 160 and np.abs(data).max() > 0.01


@pytest.mark.voices
def test_asterisk_voices_merge_english_and_spanish():
    speakers = asterisk_voices.asterisk_speakers(["allison", "june", "carlo", "ivrvoiceru"])
    assert len(speakers) == 4
    english = {p for p in speakers["allison"] if "/en_US_f_Allison/" in str(p)}
    spanish = {p for p in speakers["allison"] if "/es_MX_f_Allison/" in str(p)}
    assert english and spanish and len(english | spanish) == len(speakers["allison"])


def test_same_voice_training_mixtures_change_only_the_train_split(source_dir, tmp_path):
    """``train_same_voice``: that fraction of training mixtures mixes two different utterances of one voice."""
    speakers = speech.folder_speakers(source_dir)
    plain = corpus.build(speakers, tmp_path / "Plain", SMALL)
    same = corpus.build(speakers, tmp_path / "Same", CorpusConfig(**{**SMALL.__dict__, "n_train": 40,
                                                                     "train_same_voice": 0.5}))
    rows = speakers_of(same, "train")
    one_voice = [row for row in rows if row[0] == row[1]]
    assert 10 <= len(one_voice) <= 30 and {row[0] for row in one_voice} == {"alpha", "beta"}
    for _, _, first, second in one_voice:  # the two excerpts come from disjoint halves of the voice's utterances
        assert not set(first.split(";")) & set(second.split(";"))
    for split in ("dev", "test", "test_same"):
        assert read_csv(plain / f"sources_{split}.csv") == read_csv(same / f"sources_{split}.csv")
    with pytest.raises(CorpusError, match="train_same_voice must be a fraction in"):
        CorpusConfig(train_same_voice=1.5).validate()
