"""Reading audio files with checks: one clear error per bad file.

Every problem a user can cause with an input file raises :class:`AudioError`
(a ``ValueError``) whose one-line message names the file: missing, empty,
unreadable or not audio, multichannel where mono is needed, a channel it
lacks, NaN or Inf samples, a sample rate that differs from the others
without a target rate to resample to. :func:`read_mono` reads a whole file;
:func:`check_audio` and :func:`read_blocks` read a long one block by block
without holding it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
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
#: Samples per block when a file is read block by block.
BLOCK = 1 << 16


@contextlib.contextmanager
def open_audio(path: str | Path) -> Iterator[sf.SoundFile]:
    """Open an audio file for reading with soundfile; its problems, while open too, raise :class:`AudioError`.

    Files with a suffix of :data:`RAW_FORMATS` are read as that headerless format.

    Raises:
        AudioError: missing, empty, unreadable or not audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty")
    try:
        with sf.SoundFile(str(path), **RAW_FORMATS.get(path.suffix.lower(), {})) as handle:
            yield handle
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise AudioError(f"{path}: not a readable audio file ({str(err).strip()})") from None


def read_mono(path: str | Path, downmix: bool = False) -> tuple[np.ndarray, int]:
    """Read a mono file as float32 ``[T]`` with its sample rate, checking it.

    Files with a suffix of :data:`RAW_FORMATS` are read as that headerless format.
    With ``downmix``, a multichannel file (one speaker recorded in stereo) is
    read as the mean of its channels.

    Raises:
        AudioError: missing, empty, unreadable, multichannel (without ``downmix``),
            or non-finite samples.
    """
    with open_audio(path) as handle:
        data, rate = handle.read(handle.frames, dtype="float32", always_2d=True), handle.samplerate
    if data.shape[1] != 1 and not downmix:
        raise AudioError(f"{path}: expected mono audio, found {data.shape[1]} channels")
    _check_samples(path, data)
    return data.mean(axis=1), rate


def _check_samples(path, data: np.ndarray) -> None:
    """Raise :class:`AudioError` when ``data`` is empty or not finite."""
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or Inf samples")


@dataclass(frozen=True)
class AudioInfo:
    """A checked audio file: its path, sample rate, length in samples and number of channels."""

    path: Path
    rate: int
    frames: int
    channels: int


def check_audio(path: str | Path, channel: int | None = None, block: int = BLOCK) -> AudioInfo:
    """Read a whole file block by block, checking it, without holding it.

    Args:
        path: the file.
        channel: the channel to be read (1 is the first), or None.
        block: samples per block read.

    Raises:
        AudioError: missing, empty, unreadable (to its end), no samples, NaN or
            Inf samples, or no channel ``channel``.
    """
    with open_audio(path) as handle:
        if channel is not None and not 1 <= channel <= handle.channels:
            raise AudioError(f"{path}: --channel {channel}: the file has {handle.channels} channel(s)")
        frames = 0
        for data in handle.blocks(block, frames=handle.frames, dtype="float32", always_2d=True):
            _check_samples(path, data)
            frames += len(data)
        if frames == 0:
            raise AudioError(f"{path}: contains no samples")
        return AudioInfo(Path(path), handle.samplerate, frames, handle.channels)


def read_blocks(path: str | Path, channel: int | None = None, block: int = BLOCK) -> Iterator[torch.Tensor]:
    """A file as consecutive float32 blocks ``[t]`` of at most ``block`` samples: one channel, or their mean.

    Args:
        path: a file that :func:`check_audio` passed.
        channel: the channel read (1 is the first); None: the mean of all channels.
        block: samples per block.

    Example:
        >>> from bssmask.data import DEFAULT_SOURCES
        >>> [len(b) for b in read_blocks(DEFAULT_SOURCES[0], block=30000)]
        [30000, 30000, 20000]
    """
    with open_audio(path) as handle:
        for data in handle.blocks(block, frames=handle.frames, dtype="float32", always_2d=True):
            yield torch.from_numpy(data.mean(axis=1) if channel is None else data[:, channel - 1].copy())


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
