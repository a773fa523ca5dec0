"""Reading audio files with checks: one clear error per bad file.

Every problem a user can cause with an input file raises :class:`AudioError`
(a ``ValueError``) whose one-line message names the file: missing, empty,
unreadable or not audio, multichannel, NaN or Inf samples, a sample rate that
differs from the others without a target rate to resample to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from .errors import UserError


class AudioError(UserError):
    """A bad audio input; the message names the file."""


#: Headerless formats by file suffix: how soundfile reads them (``.gsm``: raw GSM 6.10, 8 kHz mono,
#: as Debian's Asterisk prompt packages ship them).
RAW_FORMATS = {".gsm": dict(format="RAW", subtype="GSM610", samplerate=8000, channels=1)}


def read_mono(path: str | Path, downmix: bool = False) -> tuple[np.ndarray, int]:
    """Read a mono file as float32 ``[T]`` with its sample rate, checking it.

    Files with a suffix of :data:`RAW_FORMATS` are read as that headerless format.
    With ``downmix``, a multichannel file (one speaker recorded in stereo) is
    read as the mean of its channels.

    Raises:
        AudioError: missing, empty, unreadable, multichannel (without ``downmix``),
            or non-finite samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True, **RAW_FORMATS.get(path.suffix.lower(), {}))
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise AudioError(f"{path}: not a readable audio file ({str(err).strip()})") from None
    if data.shape[1] != 1 and not downmix:
        raise AudioError(f"{path}: expected mono audio, found {data.shape[1]} channels")
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or Inf samples")
    return data.mean(axis=1), rate


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample ``[..., T]`` with torchaudio's band-limited sinc interpolation."""
    if orig_rate == new_rate:
        return wav
    return AF.resample(wav, orig_rate, new_rate)


def load_sources(paths, sample_rate: int | None = None) -> tuple[torch.Tensor, int, list[str]]:
    """Load source files as one tensor ``[n_src, T]``, trimmed to the shortest.

    Args:
        paths: two or more mono audio files.
        sample_rate: resample every file to this rate; when None, all files
            must share one rate.

    Returns:
        ``(sources [n_src, T] float32, sample_rate, notes)``; ``notes`` lists
        what was done to the input (resampling, trimming), one line each.

    Raises:
        AudioError: a bad file, fewer than two files, or mismatched rates.
    """
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise AudioError(f"need at least two source files, got {len(paths)}")
    loaded = [read_mono(p) for p in paths]
    rates = {rate for _, rate in loaded}
    notes = []
    if sample_rate is None:
        if len(rates) > 1:
            listing = ", ".join(f"{p} ({r} Hz)" for p, (_, r) in zip(paths, loaded))
            raise AudioError(f"sample rates differ: {listing}; pass --sample-rate to resample")
        sample_rate = rates.pop()
    wavs = []
    for path, (data, rate) in zip(paths, loaded):
        wav = resample(torch.from_numpy(data), rate, sample_rate)
        if rate != sample_rate:
            notes.append(f"{path}: resampled {rate} Hz -> {sample_rate} Hz")
        wavs.append(wav)
    length = min(w.shape[-1] for w in wavs)
    if any(w.shape[-1] != length for w in wavs):
        notes.append(
            f"sources differ in length ({', '.join(str(w.shape[-1]) for w in wavs)} samples): "
            f"trimmed to the shortest, {length} samples"
        )
    return torch.stack([w[:length] for w in wavs]), sample_rate, notes
