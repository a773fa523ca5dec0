"""Two-speaker mixture corpus from recorded speech, in LibriMix's on-disk layout.

Speech comes from one folder per speaker (any tree of audio files under it),
or by default from the Asterisk telephony prompts that Debian packages as
``asterisk-core-sounds-{en,es,fr,it,ru}-wav``: four professional voices, the
English and Spanish prompts being the same speaker (the folders resolve to
``en_US_f_Allison`` and ``es_MX_f_Allison``, merged by :func:`asterisk_speakers`).

Recipe, deterministic given ``seed``:

1. Keep the speech files: between ``min_duration`` and ``max_duration``
   seconds, not a tone or a silence file (:data:`NON_SPEECH`), RMS above
   :data:`MIN_RMS_DB`; resample to ``sample_rate``; normalise each
   utterance to an RMS of :data:`LEVEL_DB` dBFS.
2. Split each speaker's utterances into train / dev / test by ``split``
   fractions (utterance-disjoint splits; the speakers are shared).
3. Mix two different speakers at a relative level drawn uniformly in
   ``[-max_level_db, max_level_db]`` dB. Train and dev mixtures are fixed
   ``mix_length``-second excerpts of each speaker talking in turns: a pause
   of up to ``max_gap`` seconds, an utterance, and so on (so that, as in the
   test mixtures, a speaker is sometimes silent); test mixtures are two full
   utterances, the shorter zero-padded at the end (LibriMix's "max" mode).
4. Scale a mixture and its sources together so that the mixture peaks at or
   below 0.9, and write 16-bit files. The sources are rounded first and the
   mixture is their exact sum, so ``mixture == s1 + s2`` sample for sample.

Layout (that of ``Libri2Mix/wav8k/max``, so :class:`asteroid.data.LibriMix`
reads it as it reads LibriMix)::

    <out_dir>/wav8k/max/
        {train,dev,test}/{mix_clean,s1,s2}/<mixture_ID>.wav
        metadata/mixture_<split>_mix_clean.csv   mixture_ID, mixture_path, source_1_path, source_2_path, length
        metadata/sources_<split>.csv             speakers, utterances and relative level of each mixture
        corpus.json                              options and counts; written last, it marks a complete corpus

Example:
    >>> speakers = asterisk_speakers()                    # doctest: +SKIP
    >>> build(speakers, "data/Asterisk2Mix", CorpusConfig(n_train=64, n_dev=8, n_test=8))  # doctest: +SKIP
    PosixPath('data/Asterisk2Mix/wav8k/max/metadata')
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..audio import AudioError, read_mono, resample

ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
ASTERISK_LANGUAGES = ("en", "es", "fr", "it", "ru")
ASTERISK_PACKAGES = tuple(f"asterisk-core-sounds-{lang}-wav" for lang in ASTERISK_LANGUAGES)
SPLITS = ("train", "dev", "test")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

#: Files that are not speech, matched on the path relative to the speaker folder.
NON_SPEECH = re.compile(r"(^|/)silence/|(^|/)(beep[^/]*|[^/]*2tone|tt-monkeys|confbridge-(join|leave))\.[a-z0-9]+$")
#: Utterances quieter than this (dBFS RMS) are dropped as silence.
MIN_RMS_DB = -50.0
#: RMS level (dBFS) every utterance is normalised to before mixing.
LEVEL_DB = -25.0
#: Peak the written mixtures stay under.
PEAK = 0.9


class CorpusError(ValueError):
    """A bad speech source or option; the message names the folder, file or option."""


@dataclass(frozen=True)
class CorpusConfig:
    """Options of :func:`build`.

    Attributes:
        sample_rate: rate of the written files (Hz).
        n_train, n_dev, n_test: number of mixtures per split.
        mix_length: length of train and dev mixtures (s).
        max_gap: longest pause before each utterance of a train or dev mixture (s).
        max_level_db: relative level of the two speakers drawn in ``[-x, x]`` dB.
        min_duration, max_duration: utterances outside this range (s) are not used.
        split: fractions of each speaker's utterances in train, dev and test.
        seed: seed of every random choice.
    """

    sample_rate: int = 8000
    n_train: int = 2000
    n_dev: int = 200
    n_test: int = 100
    mix_length: float = 3.0
    max_gap: float = 1.0
    max_level_db: float = 5.0
    min_duration: float = 1.0
    max_duration: float = 10.0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`CorpusError` naming the first bad option."""
        for name in ("sample_rate", "n_train", "n_dev", "n_test"):
            if getattr(self, name) < 1:
                raise CorpusError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.sample_rate % 1000:
            raise CorpusError(f"sample_rate must be a multiple of 1000 Hz, got {self.sample_rate}")
        if not 0 < self.min_duration < self.max_duration:
            raise CorpusError(f"need 0 < min_duration < max_duration, got {self.min_duration}, {self.max_duration}")
        if self.mix_length <= 0 or self.max_level_db < 0 or self.max_gap < 0:
            raise CorpusError(f"need mix_length > 0, max_gap >= 0 and max_level_db >= 0, got "
                              f"{self.mix_length}, {self.max_gap}, {self.max_level_db}")
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in self.split)
        if len(self.split) != 3 or not numbers or min(self.split) <= 0 or abs(sum(self.split) - 1) > 1e-6:
            raise CorpusError(f"split must be three positive fractions summing to 1, got {list(self.split)}")


def _clean_name(text: str) -> str:
    """A name safe in mixture IDs: letters, digits and ``-`` only (LibriMix IDs split on ``_``)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")


def asterisk_speakers(root: str | Path = ASTERISK_ROOT, languages=ASTERISK_LANGUAGES) -> dict[str, list[Path]]:
    """Speech files of the Asterisk prompts by speaker.

    Each language folder resolves (Debian alternatives) to a voice folder
    such as ``en_US_f_Allison``; folders of the same voice are one speaker.

    Raises:
        CorpusError: a language folder is missing, with the packages to install.
    """
    root = Path(root)
    missing = [lang for lang in languages if not (root / lang).is_dir()]
    if missing:
        packages = " ".join(f"asterisk-core-sounds-{lang}-wav" for lang in missing)
        raise CorpusError(
            f"{root}: no Asterisk prompts for {', '.join(missing)}; install them as root with "
            f"`apt-get install {packages}`, or give a folder with one subfolder per speaker (--source_dir)"
        )
    speakers: dict[str, list[Path]] = {}
    for lang in languages:
        folder = (root / lang).resolve()
        voice = folder.name.split("_")[-1] if folder.name.count("_") >= 2 else lang
        speakers.setdefault(_clean_name(voice).lower(), []).extend(_audio_files(folder))
    return speakers


def folder_speakers(source_dir: str | Path) -> dict[str, list[Path]]:
    """Audio files of ``source_dir/<speaker>/**`` by speaker (subfolder name).

    Raises:
        CorpusError: missing folder or fewer than two speakers with audio files.
    """
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise CorpusError(f"{source_dir}: no such folder (expected one subfolder per speaker)")
    speakers = {_clean_name(d.name).lower(): _audio_files(d) for d in sorted(source_dir.iterdir()) if d.is_dir()}
    speakers = {name: files for name, files in speakers.items() if files}
    if len(speakers) < 2:
        raise CorpusError(f"{source_dir}: need at least two speaker subfolders with audio files, found {len(speakers)}")
    return speakers


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _load_speaker(name: str, files: list[Path], config: CorpusConfig) -> list[tuple[str, np.ndarray]]:
    """Kept utterances of one speaker: ``(utterance_id, float64 [T] at LEVEL_DB RMS)``, sorted by id."""
    root = Path(os.path.commonpath([f.parent for f in files])) if files else Path()
    kept = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if NON_SPEECH.search(rel):
            continue
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise CorpusError(f"{path}: not a readable audio file ({str(err).strip()})") from None
        if not config.min_duration <= info.duration <= config.max_duration:
            continue
        try:
            data, rate = read_mono(path)
        except AudioError as err:
            raise CorpusError(str(err)) from None
        wav = resample(torch.from_numpy(data), rate, config.sample_rate).numpy().astype(np.float64)
        rms = np.sqrt(np.mean(wav**2))
        if rms <= 10 ** (MIN_RMS_DB / 20):
            continue
        kept.append((f"{name}-{_clean_name(rel.rsplit('.', 1)[0])}", wav * (10 ** (LEVEL_DB / 20) / rms)))
    return sorted(kept, key=lambda u: u[0])


def _split_utterances(utterances, fractions, rng) -> dict[str, list]:
    """Utterance-disjoint train / dev / test lists of one speaker."""
    order = rng.permutation(len(utterances))
    n_train = int(round(fractions[0] * len(order)))
    n_dev = int(round(fractions[1] * len(order)))
    bounds = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev], "test": order[n_train + n_dev :]}
    return {split: [utterances[i] for i in idx] for split, idx in bounds.items()}


def _excerpt(pool, length: int, max_gap: int, rng) -> tuple[np.ndarray, list[str]]:
    """``length`` samples of a speaker: pauses of up to ``max_gap`` samples and utterances
    in turn, from a random point of the first pause or utterance."""
    parts, ids, total = [], [], 0
    while total < length:
        uid, wav = pool[rng.integers(len(pool))]
        turn = np.concatenate([np.zeros(rng.integers(max_gap + 1)), wav])
        if not parts:
            turn = turn[rng.integers(len(turn)) :]
        parts.append(turn)
        ids.append(uid)
        total += len(turn)
    return np.concatenate(parts)[:length], ids


def _draw_segment(pools, length, max_gap, rng):
    spk = rng.choice(sorted(pools), size=2, replace=False)
    (a, ids_a), (b, ids_b) = (_excerpt(pools[s], length, max_gap, rng) for s in spk)
    return list(spk), (a, b), (ids_a, ids_b)


def _draw_utterances(pools, rng, used: set):
    """Two full utterances of different speakers, a pair not drawn before."""
    for _ in range(1000):
        spk = rng.choice(sorted(pools), size=2, replace=False)
        picks = [pools[s][rng.integers(len(pools[s]))] for s in spk]
        key = frozenset((picks[0][0], picks[1][0]))
        if key not in used:
            used.add(key)
            length = max(len(w) for _, w in picks)
            wavs = tuple(np.pad(w, (0, length - len(w))) for _, w in picks)
            return list(spk), wavs, ([picks[0][0]], [picks[1][0]])
    raise CorpusError("test: not enough distinct utterance pairs; lower n_test or add speech")


def _mix(wavs, level_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Sources ``[2, T]`` and their mixture ``[T]`` as int16, source 1 ``level_db`` dB above source 2."""
    gains = 10 ** (np.array([level_db, -level_db]) / 40)
    sources = np.stack(wavs) * gains[:, None]
    peak = np.abs(sources.sum(0)).max()
    if peak > PEAK:
        sources *= PEAK / peak
    sources = np.round(sources * 32767).astype(np.int16)
    return sources, sources.astype(np.int32).sum(0).astype(np.int16)


def _write_split(split, pools, n, config, split_dir: Path, final_dir: Path, rng) -> tuple[list[dict], list[dict]]:
    """Write one split's wav files; return its LibriMix rows and its source rows."""
    for sub in ("mix_clean", "s1", "s2"):
        (split_dir / sub).mkdir(parents=True)
    seg_len = int(round(config.mix_length * config.sample_rate))
    max_gap = int(round(config.max_gap * config.sample_rate))
    used: set = set()
    rows, info = [], []
    for i in range(n):
        if split == "test":
            spk, wavs, ids = _draw_utterances(pools, rng, used)
            mixture_id = "_".join(i[0] for i in ids)
        else:
            spk, wavs, ids = _draw_segment(pools, seg_len, max_gap, rng)
            mixture_id = f"{i:05d}-{spk[0]}_{i:05d}-{spk[1]}"
        level_db = float(rng.uniform(-config.max_level_db, config.max_level_db))
        sources, mixture = _mix(wavs, level_db)
        paths = {sub: final_dir / sub / f"{mixture_id}.wav" for sub in ("mix_clean", "s1", "s2")}
        for sub, wav in zip(("mix_clean", "s1", "s2"), (mixture, *sources)):
            sf.write(split_dir / sub / f"{mixture_id}.wav", wav, config.sample_rate, subtype="PCM_16")
        rows.append(dict(mixture_ID=mixture_id, mixture_path=paths["mix_clean"], source_1_path=paths["s1"],
                         source_2_path=paths["s2"], length=len(mixture)))
        info.append(dict(mixture_ID=mixture_id, speaker_1=spk[0], speaker_2=spk[1],
                         utterances_1=";".join(ids[0]), utterances_2=";".join(ids[1]),
                         level_db=round(level_db, 3)))
    return rows, info


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def corpus_dir(out_dir: str | Path, sample_rate: int = 8000) -> Path:
    """The folder holding the split folders and ``metadata/`` (``<out_dir>/wav8k/max``)."""
    return Path(out_dir) / f"wav{sample_rate // 1000}k" / "max"


def _remove_abandoned(out_dir: Path) -> None:
    """Remove the temporary folders of builds of ``out_dir`` that no process holds (killed mid-build).

    A build holds an exclusive lock on ``<temporary folder>.lock`` while it
    writes; the lock goes with the process, however it ends.
    """
    for tmp in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        if not tmp.is_dir():
            continue
        lock = tmp.with_name(tmp.name + ".lock")
        try:
            with open(lock, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(tmp, ignore_errors=True)
            lock.unlink()
        except BlockingIOError:
            continue  # another build is writing it


def build(speakers: dict[str, list[Path]], out_dir: str | Path, config: CorpusConfig = CorpusConfig()) -> Path:
    """Build the corpus under ``out_dir`` (see the module docstring); return its ``metadata`` folder.

    The corpus is written to a temporary folder and moved into place when
    complete, so an interrupted build leaves no corpus, and the next build
    removes its temporary folder and builds the whole corpus. An existing
    corpus built with the same options and files is kept as is (a rerun is
    a no-op); one built with other options is replaced.

    Args:
        speakers: audio files by speaker name (:func:`asterisk_speakers`,
            :func:`folder_speakers`); at least two speakers.
        out_dir: corpus root (for example ``data/Asterisk2Mix``).
        config: the options.

    Raises:
        CorpusError: bad options, too little speech, or ``out_dir`` holding
            something that is not a corpus built here.
    """
    config.validate()
    out_dir = Path(out_dir).resolve()
    final = corpus_dir(out_dir, config.sample_rate)
    options = dataclasses.asdict(config)
    options["split"] = list(config.split)
    sources = {name: [str(f) for f in files] for name, files in sorted(speakers.items())}
    marker = final / "corpus.json"
    if marker.is_file():
        previous = json.loads(marker.read_text())
        if previous.get("options") == options and previous.get("source_files") == sources:
            return final / "metadata"
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise CorpusError(f"{out_dir}: exists and is not a corpus built here; remove it or choose another folder")

    utterances = {name: _load_speaker(name, files, config) for name, files in sorted(speakers.items())}
    rng = np.random.default_rng(config.seed)
    per_split = {s: {} for s in SPLITS}
    for name, utts in utterances.items():
        if len(utts) < 3:
            continue
        for split, utts_split in _split_utterances(utts, config.split, rng).items():
            if utts_split:
                per_split[split][name] = utts_split
    for split, pools in per_split.items():
        if len(pools) < 2:
            raise CorpusError(
                f"{split}: fewer than two speakers have usable speech ({', '.join(pools) or 'none'}); "
                f"kept utterances per speaker: {', '.join(f'{k}={len(v)}' for k, v in utterances.items())}"
            )

    _remove_abandoned(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = open(tmp.with_name(tmp.name + ".lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp_final = corpus_dir(tmp, config.sample_rate)
    counts = {"train": config.n_train, "dev": config.n_dev, "test": config.n_test}
    try:
        (tmp_final / "metadata").mkdir(parents=True)
        for index, split in enumerate(SPLITS):
            split_rng = np.random.default_rng([config.seed, index])
            rows, info = _write_split(split, per_split[split], counts[split], config,
                                      tmp_final / split, final / split, split_rng)
            _write_csv(tmp_final / "metadata" / f"mixture_{split}_mix_clean.csv", rows)
            _write_csv(tmp_final / "metadata" / f"sources_{split}.csv", info)
        summary = dict(
            options=options,
            utterances={s: {k: len(v) for k, v in pools.items()} for s, pools in per_split.items()},
            source_files=sources,
        )
        (tmp_final / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.unlink(lock.name)
        lock.close()
    return final / "metadata"


def local_metadata(metadata_dir: str | Path, split_dirs: dict[str, str | Path]) -> None:
    """Copy each split's ``mixture_<split>_*.csv`` into its own folder, as Asteroid's recipes do.

    :class:`asteroid.data.LibriMix` takes a folder holding one split's CSV
    files; LibriMix's ``metadata`` folder holds all of them.

    Args:
        metadata_dir: a LibriMix (or :func:`build`) ``metadata`` folder.
        split_dirs: destination folder by split name (``{"train-360": "data/train-360", ...}``).

    Raises:
        CorpusError: a split has no ``mixture_<split>_mix_clean.csv``.
    """
    metadata_dir = Path(metadata_dir)
    for split, dest in split_dirs.items():
        found = sorted(metadata_dir.glob(f"mixture_{split}_mix_*.csv"))
        if not any(p.name.endswith("_mix_clean.csv") for p in found):
            raise CorpusError(f"{metadata_dir}: no mixture_{split}_mix_clean.csv")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for path in found:
            shutil.copyfile(path, dest / f".{path.name}.tmp")
            os.replace(dest / f".{path.name}.tmp", dest / path.name)
