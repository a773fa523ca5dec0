"""Scores of one separated mixture: BSS-Eval, SI-SDR, PESQ and STOI, with the mixture's own as baseline.

:func:`score_separation` is what evaluation writes for each test mixture
(:meth:`bssmask.engine.system.SeparationSystem.predict_step`): the mean over
sources of each metric of :data:`EVAL_METRICS` for the estimates, and the
same for the unprocessed mixture taken as every source's estimate
(``input_*``). Undefined values (a silent source) are left out of the means.

Example:
    >>> import torch
    >>> sources = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    >>> row = score_separation(sources.sum(0), sources, 1.01 * sources, 8000)
    >>> row["si_sdr"] > 30 > row["input_si_sdr"]
    True
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..metrics import separation_metrics

__all__ = ["EVAL_METRICS", "reorder_to_sources", "score_separation"]

#: Per-mixture metrics of :func:`score_separation` (each also with an ``input_`` baseline).
EVAL_METRICS = ("sdr", "si_sdr", "sir", "sar", "pesq", "stoi")


def reorder_to_sources(estimates: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """``estimates`` ``[B, n_src, T]`` reordered to ``sources`` ``[B, n_src, T]``: the permutation of best SI-SDR.

    Asteroid's PIT (:class:`asteroid.losses.PITLossWrapper` on
    :func:`asteroid.losses.pairwise_neg_sisdr`), item by item.

    Example:
        >>> sources = torch.randn(1, 2, 8000, generator=torch.Generator().manual_seed(0))
        >>> torch.equal(reorder_to_sources(sources.flip(1), sources), sources)
        True
    """
    from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr

    _, reordered = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")(estimates, sources, return_est=True)
    return reordered


def _pesq_stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """PESQ (narrow band at 8 kHz, wide band at 16 kHz, else NaN) and STOI of one source.

    Both are NaN for a silent estimate or reference, PESQ also where it finds no utterance.
    """
    from pesq import PesqError, pesq
    from pystoi import stoi

    if not (np.any(ref) and np.any(est)):
        return math.nan, math.nan
    mode = {8000: "nb", 16000: "wb"}.get(sample_rate)
    try:
        pesq_value = pesq(sample_rate, ref, est, mode) if mode else math.nan
    except (PesqError, ValueError):
        pesq_value = math.nan
    return float(pesq_value), float(stoi(ref, est, sample_rate))


def score_separation(mixture: torch.Tensor, sources: torch.Tensor, estimates: torch.Tensor,
                     sample_rate: int) -> dict:
    """Metrics of one separated mixture, means over sources (NaN left out).

    Args:
        mixture: ``[T]``.
        sources: references ``[n_src, T]``.
        estimates: ``[n_src, T]`` in the order of ``sources``.
        sample_rate: Hz (PESQ needs 8 or 16 kHz).

    Returns:
        ``{metric: value, "input_" + metric: value of the mixture as estimate}``
        for every metric of :data:`EVAL_METRICS`.
    """
    row = {}
    for prefix, est in (("", estimates), ("input_", mixture.expand_as(sources))):
        scores = separation_metrics(sources, est)
        ref_np, est_np = sources.double().cpu().numpy(), est.double().cpu().numpy()
        pesq_stoi = np.array([_pesq_stoi(r, e, sample_rate) for r, e in zip(ref_np, est_np)])
        per_source = {**{k: scores[k].cpu().numpy() for k in ("sdr", "si_sdr", "sir", "sar")},
                      "pesq": pesq_stoi[:, 0], "stoi": pesq_stoi[:, 1]}
        for metric, values in per_source.items():
            finite = values[np.isfinite(values)]
            row[prefix + metric] = float(finite.mean()) if finite.size else math.nan
    return row
