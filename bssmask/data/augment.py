"""Speed perturbation of training mixtures: each source faster or slower, the mixture re-summed.

Playing a recording ``f`` times faster scales its pitch, its formants and
its tempo by ``f`` (Kaldi's and ESPnet's "speed perturbation"), so a corpus
of a few voices gives the model many more apparent speakers. Each source of
a training item gets its own factor, drawn with Python's :mod:`random`, so
that inside :class:`~bssmask.data.epochs.SeededExcerpts` the draw depends on
the seed, the epoch and the item only.

Example:
    >>> import torch
    >>> speech = torch.randn(16000)
    >>> speed_change(speech, 1.1).shape, speed_change(speech, 0.9).shape
    (torch.Size([16000]), torch.Size([16000]))
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Sequence

import torch
import torchaudio.functional as AF
from torch.utils.data import Dataset


def speed_change(signal: torch.Tensor, factor: float) -> torch.Tensor:
    """``signal`` played ``factor`` times faster, at its own length.

    Args:
        signal: [..., T] waveform.
        factor: speed factor (1.1: 10% faster and higher); a ratio of small
            integers keeps the resampling filter short.

    Returns:
        [..., T]: the first ``T`` samples of the changed signal, zero-padded at
        the end when it is shorter (``factor > 1``).
    """
    if factor <= 0:
        raise ValueError(f"speed factor {factor}: must be positive")
    if factor == 1:
        return signal
    ratio = Fraction(factor).limit_denominator(100)
    changed = AF.resample(signal, orig_freq=ratio.numerator, new_freq=ratio.denominator)
    length = signal.shape[-1]
    if changed.shape[-1] >= length:
        return changed[..., :length]
    return torch.nn.functional.pad(changed, (0, length - changed.shape[-1]))


class SpeedPerturbed(Dataset):
    """Items ``(mixture [T], sources [n_src, T])`` whose sources each get a random speed factor.

    Args:
        dataset: yields ``(mixture, sources)`` (a LibriMix ``sep_clean`` split).
        factors: the factors drawn from, uniformly (e.g. ``[0.9, 1.0, 1.1]``).

    The mixture is the sum of the changed sources.
    """

    def __init__(self, dataset: Dataset, factors: Sequence[float]):
        if not factors or any(f <= 0 for f in factors):
            raise ValueError(f"speed_perturb {list(factors)}: give positive speed factors")
        self.dataset, self.factors = dataset, [float(f) for f in factors]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        _, sources = self.dataset[index]
        changed = torch.stack([speed_change(source, random.choice(self.factors)) for source in sources])
        return changed.sum(0), changed
