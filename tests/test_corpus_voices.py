"""Training voices beyond the recorded ones: pseudo-speakers (pitch and vocal-tract length changed) and synthetic
voices; held-out voices never used; the other splits byte-identical to the default corpus's."""

import json
import re

import numpy as np
import parselmouth
import pytest
import soundfile as sf

from bssmask.data import DEFAULT_SOURCES, corpus, pseudo_voices, speech, tts_voices, voice_distance
from bssmask.data.corpus_options import CorpusConfig, CorpusError
from test_corpus import HELD, SMALL, five_voices, read_csv, source_dir, speakers_of  # noqa: F401  (fixtures)

#: SMALL with two pseudo-speakers of each recorded training voice.
TRANSFORMED = CorpusConfig(**{**HELD.__dict__, "n_train": 24, "transformed_voices": 2, "transform_seed": 5})


def test_pseudo_speaker_factors_are_drawn_per_speaker_and_reproducible():
    voices = pseudo_voices.draw(["alpha", "beta"], 3, seed=7)
    assert [v.name for v in voices] == ["alpha-p0", "alpha-p1", "alpha-p2", "beta-p0", "beta-p1", "beta-p2"]
    assert voices == pseudo_voices.draw(["alpha", "beta"], 3, seed=7)
    assert voices[3:] == pseudo_voices.draw(["beta"], 3, seed=7)  # a voice's draws ignore the other voices
    assert voices != pseudo_voices.draw(["alpha", "beta"], 3, seed=8)
    many = pseudo_voices.draw([f"v{i}" for i in range(50)], 4, seed=0)
    factors = np.array([(v.f0_factor, v.formant_factor) for v in many])
    assert factors[:, 0].min() >= pseudo_voices.F0_RANGE[0] and factors[:, 0].max() <= pseudo_voices.F0_RANGE[1]
    assert factors[:, 1].min() >= pseudo_voices.FORMANT_RANGE[0]
    assert factors[:, 1].max() <= pseudo_voices.FORMANT_RANGE[1]
    assert len(np.unique(factors, axis=0)) == 200  # every pseudo-speaker has its own pair
    changed = (np.maximum(factors[:, 0], 1 / factors[:, 0]) >= pseudo_voices.MIN_CHANGE[0]) | (
        np.maximum(factors[:, 1], 1 / factors[:, 1]) >= pseudo_voices.MIN_CHANGE[1])
    assert changed.all()  # none is a copy of its source


def _first_formant(wav, rate) -> float:
    """Median F1 (Hz) over the voiced frames."""
    sound = parselmouth.Sound(wav, rate)
    formant, pitch = sound.to_formant_burg(max_number_of_formants=4, maximum_formant=3800), sound.to_pitch()
    times = [t for t in np.arange(0.05, len(wav) / rate - 0.05, 0.01) if pitch.get_value_at_time(t) > 0]
    return float(np.nanmedian([formant.get_value_at_time(1, t) for t in times]))


@pytest.mark.parametrize("f0_factor, formant_factor", [(1.3, 1.0), (0.7, 1.0), (1.0, 1.15), (0.6, 0.87)])
def test_a_transformed_utterance_has_its_f0_and_formants_scaled_as_asked(f0_factor, formant_factor):
    wav, rate = sf.read(DEFAULT_SOURCES[0])
    out = pseudo_voices.change_voice(wav, rate, f0_factor, formant_factor)
    assert out.shape == wav.shape and np.isfinite(out).all()
    ratio = pseudo_voices.median_f0(out, rate) / pseudo_voices.median_f0(wav, rate)
    assert ratio == pytest.approx(f0_factor, rel=0.03)
    assert _first_formant(out, rate) / _first_formant(wav, rate) == pytest.approx(formant_factor, abs=0.1)


@pytest.fixture(scope="module")
def transformed(five_voices, tmp_path_factory):  # noqa: F811
    speakers = speech.folder_speakers(five_voices)
    root = tmp_path_factory.mktemp("voices")
    return corpus.build(speakers, root / "Plain", HELD), corpus.build(speakers, root / "Pseudo", TRANSFORMED)


def test_pseudo_speakers_are_heard_in_training_only(transformed):
    plain, pseudo = transformed
    names = {"alpha-p0", "alpha-p1", "beta-p0", "beta-p1"}
    heard = {v for row in speakers_of(pseudo, "train") for v in row[:2]}
    assert names <= heard <= names | {"alpha", "beta"}
    kinds = json.loads((pseudo.parent / "speakers.json").read_text())
    assert kinds["train"] == {"recorded": ["alpha", "beta"], "transformed": sorted(names), "synthetic": []}
    assert all(not k["transformed"] for split, k in kinds.items() if split != "train")
    record = json.loads((pseudo.parent / "corpus.json").read_text())
    assert record["pseudo_voices"] == [dict(v.__dict__) for v in pseudo_voices.draw(["alpha", "beta"], 2, 5)]
    utterances = record["utterances"]["train"]
    assert utterances["alpha-p0"] == utterances["alpha-p1"] == utterances["alpha"]  # its source's training utterances
    for row in speakers_of(pseudo, "train"):  # a pseudo-speaker's utterances are its own
        for voice, ids in zip(row[:2], row[2:]):
            assert all(re.fullmatch(rf"{voice}-(sub-)?part\d", u) for u in ids.split(";")), (voice, ids)


def test_new_voices_leave_every_other_split_byte_identical(transformed):
    plain, pseudo = transformed
    for split in ("dev", "test", "test_unseen", "dev_unseen", "test_same"):
        assert read_csv(plain / f"sources_{split}.csv") == read_csv(pseudo / f"sources_{split}.csv")
        for sub in ("mix_clean", "s1", "s2"):
            files = sorted((plain.parent / split / sub).iterdir())
            assert files and [f.read_bytes() for f in files] == [
                (pseudo.parent / split / sub / f.name).read_bytes() for f in files]


def test_held_out_voices_are_never_transformed(transformed):
    record = json.loads((transformed[1].parent / "corpus.json").read_text())
    assert {v["source"] for v in record["pseudo_voices"]} == {"alpha", "beta"}  # not gamma, delta, epsilon
    wav, _ = sf.read(DEFAULT_SOURCES[0])
    pools = {"gamma": [("gamma-a", wav)], "alpha": [("alpha-a", wav)]}
    with pytest.raises(CorpusError, match="transformed_voices: gamma held out"):
        pseudo_voices.transform(pools, pseudo_voices.draw(["alpha", "gamma"], 1, 0), 8000, held_out=("gamma", "delta"))
    with pytest.raises(CorpusError, match="transformed_voices must be >= 0"):
        CorpusConfig(transformed_voices=-1).validate()


@pytest.mark.skipif(tts_voices.missing_packages(["tts-kal", "tts-espeak-f2", "tts-awb"]) != [],
                    reason="needs festvox-kallpc16k, espeak-ng and flite")
def test_synthetic_voices_are_training_voices_at_the_corpus_rate(five_voices, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tts_voices, "UTTERANCES", 4)
    names = ["tts-kal", "tts-espeak-f2", "tts-awb"]
    files = tts_voices.synthesize(names, tmp_path / "tts")
    assert {name: len(f) for name, f in files.items()} == dict.fromkeys(names, 4)
    for name in names:
        utterances = speech.load_speaker(name, files[name], CorpusConfig())  # 1 to 10 s, at 8 kHz
        assert len(utterances) >= 3
        for _, wav in utterances:  # finite speech at the corpus rate and level
            assert np.isfinite(wav).all() and len(wav) >= 8000
            assert 20 * np.log10(np.sqrt(np.mean(wav**2))) == pytest.approx(speech.LEVEL_DB)
    assert tts_voices.synthesize(names, tmp_path / "tts") == files  # made once
    config = CorpusConfig(**{**HELD.__dict__, "max_duration": 10.0, "synthetic_voices": tuple(names)})
    speakers = {**speech.folder_speakers(five_voices), **files}
    metadata = corpus.build(speakers, tmp_path / "Mix", config, tts_voices.licences(names))
    kinds = json.loads((metadata.parent / "speakers.json").read_text())
    assert kinds["train"] == {"recorded": ["alpha", "beta"], "transformed": [], "synthetic": sorted(names)}
    assert kinds["dev"]["synthetic"] == kinds["test"]["synthetic"] == []
    licences = json.loads((metadata.parent / "corpus.json").read_text())["licences"]
    assert licences["tts-espeak-f2"] == "GPL-3+; /usr/share/doc/espeak-ng/copyright"
    with pytest.raises(CorpusError, match="gamma given more than once"):
        CorpusConfig(**{**config.__dict__, "synthetic_voices": ("gamma",)}).validate()  # a held-out voice
    with pytest.raises(CorpusError, match="unknown synthetic voice 'tts-nobody'"):
        tts_voices.synthesize(["tts-nobody"], tmp_path / "tts")


def test_voice_distance_table_measures_each_pseudo_speaker_against_its_source(transformed, capsys):
    rows = voice_distance.distances(transformed[1].parent, max_excerpts=300)
    kinds = [row["kind"].split(" ")[0] for row in rows]
    assert kinds == ["recorded", "same", "same"] + ["pseudo"] * 4 + ["held-out,"] * 6  # delta, gamma, epsilon, twice
    assert [(row["voice"], row["other"]) for row in rows[3:7]] == [
        ("alpha-p0", "alpha"), ("alpha-p1", "alpha"), ("beta-p0", "beta"), ("beta-p1", "beta")]
    factors = {v.name: v.f0_factor for v in pseudo_voices.draw(["alpha", "beta"], 2, 5)}
    for row in rows[3:7]:  # the training excerpts of a pseudo-speaker have its source's f0 times its factor
        assert row["f0_voice"] / row["f0_other"] == pytest.approx(factors[row["voice"]], rel=0.1)
    nearest_recorded, nearest_any = rows[7:10], rows[10:13]
    assert [r["voice"] for r in nearest_recorded] == [r["voice"] for r in nearest_any] == ["delta", "gamma", "epsilon"]
    assert all(a["distance"] <= r["distance"] for r, a in zip(nearest_recorded, nearest_any))  # more voices, nearer
    distance = {kind: np.mean([r["distance"] for r, k in zip(rows, kinds) if k == kind]) for kind in set(kinds)}
    assert np.isfinite(list(distance.values())).all()
    assert distance["pseudo"] > distance["same"]  # a pseudo-speaker is farther from its source than the source's halves
    assert voice_distance.main(["--corpus", str(transformed[1].parent)]) == 0
    assert capsys.readouterr().out.startswith("| kind | voice | other | distance | f0_voice | f0_other |")
    assert voice_distance.main(["--corpus", str(transformed[1])]) == 2  # the metadata folder: not a corpus
