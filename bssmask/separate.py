"""Separate audio files with a trained model: ``bssmask separate --model MODEL in.wav [DIR ...] --out DIR``.

Inputs are audio files and folders (every audio file in a folder, by name,
not recursing). For each input ``<name>.<ext>`` the estimates are written as
``DIR/<name>_s1.wav``, ``DIR/<name>_s2.wav``, ... (one per source, 32-bit
float WAV). An input at another sample rate than the model's is resampled
to the model's rate, separated, and the estimates resampled back, so every
output has the input's rate and length; an input shorter than one STFT frame
is padded with zeros for the model and its estimates cut back to its length.

Every input is read and checked before anything is written; a bad model
file or input ends with a one-line error naming it. Outputs are written
atomically (:mod:`bssmask.atomic`).

Example:
    >>> separate_files("exp/default/best_model.pth", ["mix.wav"], "out")   # doctest: +SKIP
    [PosixPath('out/mix_s1.wav'), PosixPath('out/mix_s2.wav')]
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from . import device as devices
from .atomic import atomic_path, output_folder
from .audio import AudioError, read_mono, resample

#: File name suffixes of the formats soundfile reads (``.wav``, ``.flac``, ``.ogg``...).
AUDIO_SUFFIXES = frozenset(f".{name.lower()}" for name in sf.available_formats())


def audio_files(inputs) -> list[Path]:
    """The files to separate: each file given, and each folder's audio files (:data:`AUDIO_SUFFIXES`, by name).

    Raises:
        AudioError: a folder without audio files.
    """
    files = []
    for path in map(Path, inputs):
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise AudioError(f"{path}: a folder without audio files (.wav, .flac, .ogg ...)")
            files += found
        else:
            files.append(path)
    return files


def separate_files(model_path, inputs, out_dir, device: str = "auto") -> list[Path]:
    """Separate each input file; return the written paths (input order, then source order).

    Args:
        model_path: a model file (a recipe's ``best_model.pth``, any model saved with ``serialize()``)
            or a bundled model's name (``"default"``): :func:`bssmask.io.load_model`.
        inputs: mono audio files, or folders of them (:func:`audio_files`).
        out_dir: output folder (created).
        device: torch device, or ``"auto"`` (:func:`bssmask.device.resolve`).

    Raises:
        CheckpointError: bad model file.
        AudioError: an unreadable, empty, multichannel or non-finite input, a folder without audio.
        ValueError: two inputs with the same name (their outputs would collide), no input, ``out_dir``
            naming a file, or a device this machine lacks.
    """
    device = devices.resolve(device)
    out_dir = output_folder(out_dir)
    inputs = audio_files(inputs)
    if not inputs:
        raise ValueError("no input file given")
    stems = [p.stem for p in inputs]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ValueError(f"inputs share the name(s) {', '.join(clash)}: their outputs would overwrite each other")
    from .io import load_model  # Asteroid's import is slow: only when separating

    model = load_model(model_path).eval().to(device)
    loaded = [read_mono(p) for p in inputs]
    rate = int(model.sample_rate)
    frame = model.encoder.filterbank.kernel_size
    written = []
    for path, (data, in_rate) in zip(inputs, loaded):
        wav = torch.from_numpy(data)
        mix = resample(wav, in_rate, rate)
        padded = torch.nn.functional.pad(mix, (0, max(0, frame - mix.shape[-1])))
        with torch.no_grad():
            estimates = model(padded[None].to(device))[0, :, : mix.shape[-1]].cpu()
        estimates = resample(estimates, rate, in_rate)
        estimates = torch.nn.functional.pad(estimates, (0, max(0, len(wav) - estimates.shape[-1])))[:, : len(wav)]
        for k, est in enumerate(estimates, start=1):
            target = out_dir / f"{path.stem}_s{k}.wav"
            with atomic_path(target) as tmp:
                sf.write(tmp, est.numpy(), in_rate, format="WAV", subtype="FLOAT")
            written.append(target)
    return written
