"""Separate audio files with a trained model: ``bssmask separate --model MODEL in.wav [DIR ...] --out DIR``.

Inputs are audio files and folders (every audio file in a folder, by name,
not recursing). For each input ``<name>.<ext>`` the estimates are written as
``DIR/<name>_s1.wav``, ``DIR/<name>_s2.wav``, ... (one per source, 32-bit
float WAV), at the input's rate and length:

- A multichannel input is downmixed to the mean of its channels (said on
  stderr), or ``channel`` picks one.
- An input at another rate than the model's is resampled to the model's
  rate, separated, and the estimates resampled back.
- An input of at most ``chunk_seconds`` (at the model's rate) is separated
  whole; one shorter than an STFT frame is padded with zeros for the model
  and its estimates cut back. A longer one is read, resampled, separated
  (in chunks that overlap by :data:`~bssmask.separate_options.OVERLAP_FRACTION`
  of a chunk, cross-faded, each speaker kept on one output: :func:`bssmask.stream.separate_blocks`)
  and written block by block, so memory does not grow with its length.
  Resampling block by block gives the whole-file result to float rounding
  (:func:`bssmask.stream.resample_blocks`).

Every input is read through and checked before anything is written; a bad
model file or input ends with a one-line error naming it. Files are then
separated one at a time, with a progress bar over files and chunks on a
terminal. Outputs are written atomically (:mod:`bssmask.atomic`).

Example:
    >>> separate_files("exp/default/best_model.pth", ["mix.wav"], "out", chunk_seconds=20)   # doctest: +SKIP
    [PosixPath('out/mix_s1.wav'), PosixPath('out/mix_s2.wav')]
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import soundfile as sf
import torch
from tqdm import tqdm

from . import device as devices
from .atomic import atomic_path, output_folder
from .audio import AudioError, AudioInfo, check_audio, read_blocks, resample
from .separate_options import OVERLAP_FRACTION, SeparateOptions
from .stream import chunk_count, resample_blocks, separate_blocks

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


def check_inputs(inputs, channel: int | None = None) -> list[AudioInfo]:
    """Every file to separate (:func:`audio_files`), read through and checked (:func:`bssmask.audio.check_audio`).

    Raises:
        AudioError: a bad file or folder, or a ``channel`` that a file lacks.
        ValueError: no input, or two inputs with the same name (their outputs would collide).
    """
    files = audio_files(inputs)
    if not files:
        raise ValueError("no input file given")
    stems = [p.stem for p in files]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ValueError(f"inputs share the name(s) {', '.join(clash)}: their outputs would overwrite each other")
    return [check_audio(path, channel) for path in files]


def separate_signal(model, mix: torch.Tensor, device=None) -> torch.Tensor:
    """The model's estimates ``[n_src, T]`` of a mixture ``[T]`` at its rate, on the CPU.

    A mixture shorter than one STFT frame is zero-padded for the model and
    its estimates cut back to its length.
    """
    frame = model.encoder.filterbank.kernel_size
    padded = torch.nn.functional.pad(mix, (0, max(0, frame - mix.shape[-1])))
    with torch.no_grad():
        return model(padded[None].to(device))[0, :, : mix.shape[-1]].cpu()


def separate_files(model_path, inputs, out_dir, **options) -> list[Path]:
    """Separate each input file; return the written paths (input order, then source order).

    Args:
        model_path: a model file (a recipe's ``best_model.pth``, any model saved with ``serialize()``)
            or a bundled model's name (``"default"``): :func:`bssmask.model_files.load_model`.
        inputs: audio files, or folders of them (:func:`audio_files`).
        out_dir: output folder (created).
        **options: :class:`~bssmask.separate_options.SeparateOptions` (``channel``,
            ``chunk_seconds``, ``device``).

    Raises:
        CheckpointError: bad model file.
        AudioError: an unreadable, empty or non-finite input, a ``channel`` it lacks, a folder without audio.
        ValueError: a bad option, two inputs with the same name (their outputs would collide), no input,
            ``out_dir`` naming a file, or a device this machine lacks.
    """
    options = SeparateOptions(**options)
    options.validate()
    device = devices.resolve(options.device)
    out_dir = output_folder(out_dir)
    infos = check_inputs(inputs, options.channel)
    from .model_files import load_model  # Asteroid's import is slow: only when separating

    model = load_model(model_path).eval().to(device)
    mixed = [info.path.name for info in infos if info.channels > 1]
    if mixed and options.channel is None:
        more = f" and {len(mixed) - 1} more" if len(mixed) > 1 else ""
        print(f"note: {mixed[0]}{more}: multichannel, separated as the mean of the channels "
              "(--channel N separates channel N)", file=sys.stderr)
    written = []
    for info in tqdm(infos, desc="files", unit="file", disable=None, file=sys.stderr):
        written += _separate_file(model, device, info, out_dir, options)
    return written


def _separate_file(model, device, info: AudioInfo, out_dir: Path, options: SeparateOptions) -> list[Path]:
    """Separate one checked file into ``out_dir/<name>_s<k>.wav``; return their paths."""
    rate = int(model.sample_rate)
    length = -(-info.frames * rate // info.rate)  # at the model's rate, as resample gives it
    chunk = round(options.chunk_seconds * rate)
    if length <= chunk:  # whole, as one block
        mix = resample(torch.cat(list(read_blocks(info.path, options.channel))), info.rate, rate)
        return _write(out_dir, info, [resample(separate_signal(model, mix, device), rate, info.rate)])
    overlap = round(chunk * OVERLAP_FRACTION)
    with tqdm(total=chunk_count(length, chunk, overlap), desc=info.path.name, unit="chunk", leave=False,
              disable=None, file=sys.stderr) as bar:
        mix = resample_blocks(read_blocks(info.path, options.channel), info.rate, rate)
        estimates = separate_blocks(mix, lambda x: separate_signal(model, x, device), chunk, overlap, bar.update)
        return _write(out_dir, info, resample_blocks(estimates, rate, info.rate))


def _write(out_dir: Path, info: AudioInfo, blocks) -> list[Path]:
    """Write estimate blocks ``[n_src, t]`` to one file per source, cut or zero-padded to the input's length."""
    paths, files, done = [], [], 0
    with contextlib.ExitStack() as stack:
        for block in blocks:
            block = block[:, : info.frames - done]
            if not files:
                paths = [out_dir / f"{info.path.stem}_s{k}.wav" for k in range(1, len(block) + 1)]
                files = [stack.enter_context(sf.SoundFile(stack.enter_context(atomic_path(p)), "w", info.rate, 1,
                                                          format="WAV", subtype="FLOAT")) for p in paths]
            for handle, estimate in zip(files, block.numpy()):
                handle.write(estimate)
            done += block.shape[-1]
        for handle in files:
            handle.write(torch.zeros(info.frames - done).numpy())
    return paths
