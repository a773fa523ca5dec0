"""Separate audio files with a trained model: ``bssmask separate --model MODEL in.wav [...] --out DIR``.

For each input ``<name>.<ext>`` the estimates are written as
``DIR/<name>_s1.wav``, ``DIR/<name>_s2.wav``, ... (one per source, 32-bit
float WAV). An input at another sample rate than the model's is resampled
to the model's rate, separated, and the estimates resampled back, so every
output has the input's rate and length.

Every input is read and checked before anything is written; a bad model
file or input ends with a one-line error naming it. Outputs are written
atomically (:mod:`bssmask.atomic`).

Example:
    >>> separate_files("exp/default/best_model.pth", ["mix.wav"], "out")   # doctest: +SKIP
    [PosixPath('out/mix_s1.wav'), PosixPath('out/mix_s2.wav')]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import soundfile as sf
import torch

from .atomic import atomic_path
from .audio import read_mono, resample
from .checkpoint import CheckpointError


def load_model(model_path: str | Path, device: str = "cpu"):
    """A :class:`~bssmask.models.MaskSeparator` from a ``serialize()`` file, in eval mode on ``device``.

    Raises:
        CheckpointError: missing, unsafe or not a serialized model.
    """
    from .models import MaskSeparator

    try:
        model = MaskSeparator.from_pretrained(str(model_path))
    except CheckpointError:
        raise
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(f"{model_path}: not a bssmask model file ({str(err).splitlines()[0]})") from None
    return model.eval().to(device)


def separate_files(model_path, inputs, out_dir, device: str = "cpu") -> list[Path]:
    """Separate each input file; return the written paths (input order, then source order).

    Args:
        model_path: a model file (``best_model.pth`` of the recipe).
        inputs: mono audio files.
        out_dir: output folder (created).
        device: torch device.

    Raises:
        CheckpointError: bad model file.
        AudioError: an unreadable, empty, multichannel or non-finite input.
        ValueError: two inputs with the same name (their outputs would collide), or no input.
    """
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise ValueError("no input file given")
    stems = [p.stem for p in inputs]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ValueError(f"inputs share the name(s) {', '.join(clash)}: their outputs would overwrite each other")
    model = load_model(model_path, device)
    loaded = [read_mono(p) for p in inputs]
    rate = int(model.sample_rate)
    out_dir = Path(out_dir)
    written = []
    for path, (data, in_rate) in zip(inputs, loaded):
        wav = torch.from_numpy(data)
        with torch.no_grad():
            estimates = model(resample(wav, in_rate, rate)[None].to(device))[0].cpu()
        estimates = resample(estimates, rate, in_rate)
        estimates = torch.nn.functional.pad(estimates, (0, max(0, len(wav) - estimates.shape[-1])))[:, : len(wav)]
        for k, est in enumerate(estimates, start=1):
            target = out_dir / f"{path.stem}_s{k}.wav"
            with atomic_path(target) as tmp:
                sf.write(tmp, est.numpy(), in_rate, format="WAV", subtype="FLOAT")
            written.append(target)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bssmask separate``."""
    parser.add_argument("inputs", nargs="+", metavar="WAV", help="mono audio files to separate")
    parser.add_argument("--model", required=True, help="trained model file (a recipe's best_model.pth)")
    parser.add_argument("--out", required=True, help="output folder: <out>/<input name>_s<k>.wav")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


def run(args: argparse.Namespace) -> int:
    """Run ``bssmask separate``; errors propagate as ``ValueError``/``OSError`` for the CLI to report."""
    for path in separate_files(args.model, args.inputs, args.out, device=args.device):
        print(path)
    return 0
