"""The speech of the corpus (:mod:`bssmask.data.corpus`): each speaker's usable utterances, at one level.

Speech comes as audio files by speaker: one folder per speaker (any tree of
audio files under it, :func:`folder_speakers`) or any other table of files
by speaker name. :func:`load_speaker` keeps the speech files of one speaker:
between ``min_duration`` and ``max_duration`` seconds, not a tone or a
silence file (:data:`NON_SPEECH`), RMS above :data:`MIN_RMS_DB`; it averages
the channels of a stereo recording, resamples to ``sample_rate`` and
normalises each utterance to an RMS of :data:`LEVEL_DB` dBFS (:func:`at_level`).

Example (``speech/`` holding a folder of audio files for each speaker):
    >>> speakers = folder_speakers("speech")  # doctest: +SKIP
    >>> load_speaker("alpha", speakers["alpha"], CorpusConfig())[0]  # doctest: +SKIP
    ('alpha-hello', array([...]))
    >>> clean_name("digits/fr/1 (old)")
    'digits-fr-1-old'
    >>> wav = at_level(np.full(800, 0.5))
    >>> bool(round(20 * np.log10(np.sqrt(np.mean(wav**2))), 6) == LEVEL_DB)
    True
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..audio import RAW_FORMATS, AudioError, read_mono, resample
from .corpus_options import CorpusConfig, CorpusError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", *RAW_FORMATS)

#: Files that are not speech (the tones and silences of telephony prompts), matched on the path relative to the
#: speaker folder.
NON_SPEECH = re.compile(r"(^|/)silence/|(^|/)(beep[^/]*|[^/]*2tone|tt-monkeys|confbridge-(join|leave))\.[a-z0-9]+$")
#: Utterances quieter than this (dBFS RMS) are dropped as silence.
MIN_RMS_DB = -50.0
#: RMS level (dBFS) every utterance is normalised to before mixing.
LEVEL_DB = -25.0


def clean_name(text: str) -> str:
    """A name safe in mixture IDs: letters, digits and ``-`` only (LibriMix IDs split on ``_``)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")


def folder_speakers(source_dir: str | Path) -> dict[str, list[Path]]:
    """Audio files of ``source_dir/<speaker>/**`` by speaker (subfolder name).

    Raises:
        CorpusError: missing folder or fewer than two speakers with audio files.
    """
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise CorpusError(f"{source_dir}: no such folder (expected one subfolder per speaker)")
    speakers = {clean_name(d.name).lower(): _audio_files(d) for d in sorted(source_dir.iterdir()) if d.is_dir()}
    speakers = {name: files for name, files in speakers.items() if files}
    if len(speakers) < 2:
        raise CorpusError(f"{source_dir}: need at least two speaker subfolders with audio files, found {len(speakers)}")
    return speakers


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def load_speaker(name: str, files: list[Path], config: CorpusConfig) -> list[tuple[str, np.ndarray]]:
    """Kept utterances of one speaker: ``(utterance_id, float64 [T] at LEVEL_DB RMS)``, sorted by id."""
    root = Path(os.path.commonpath([f.parent for f in files])) if files else Path()
    kept = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if NON_SPEECH.search(rel):
            continue
        try:
            with sf.SoundFile(str(path), **RAW_FORMATS.get(path.suffix.lower(), {})) as info:
                duration = info.frames / info.samplerate
        except (sf.LibsndfileError, RuntimeError) as err:
            raise CorpusError(f"{path}: not a readable audio file ({str(err).strip()})") from None
        if not config.min_duration <= duration <= config.max_duration:
            continue
        try:
            data, rate = read_mono(path, downmix=True)
        except AudioError as err:
            raise CorpusError(str(err)) from None
        wav = resample(torch.from_numpy(data), rate, config.sample_rate).numpy().astype(np.float64)
        if np.sqrt(np.mean(wav**2)) <= 10 ** (MIN_RMS_DB / 20):
            continue
        kept.append((f"{name}-{clean_name(rel.rsplit('.', 1)[0])}", at_level(wav)))
    return sorted(kept, key=lambda u: u[0])


def at_level(wav: np.ndarray) -> np.ndarray:
    """``wav`` scaled to an RMS of :data:`LEVEL_DB` dBFS (a silent one stays silent)."""
    return wav * (10 ** (LEVEL_DB / 20) / max(np.sqrt(np.mean(wav**2)), 1e-12))
