"""What decides the cost of frequency down/upsampling: mask statistics across adjacent bins.

Keeping every other bin and upsampling by nearest neighbour gives each
dropped bin ``f + 1`` the mask of its neighbour ``f``. How much that costs a
mask kind depends on how alike the masks of adjacent bins are, which the STFT
window decides (a Hann window spreads a component over more bins than its
square root), and on the few bins where a complex mask is large (``|M| > 1``:
the sources partly cancel there, and a copied large value is a large error).

For a mixture ``Y`` (complex ``[F, T]``), sources ``S`` (``[n_src, F, T]``)
and a mask kind's oracle ``M = oracle(S, Y)``, with pairs of adjacent bins
``(f, f + 1)`` over every frame:

- ``mix_adjacent_corr``: ``|sum Y_f conj(Y_{f+1})| / sqrt(sum |Y_f|^2 sum |Y_{f+1}|^2)``,
  the correlation of adjacent mixture bins, which the window sets (2/3 with a
  Hann window, 1/2 with its square root, for any signal whose level varies
  little within a frame);
- ``mask_adjacent_corr``: ``Re sum w M_f conj(M_{f+1}) / sqrt(sum w |M_f|^2 sum w |M_{f+1}|^2)``
  with weights ``w = |Y_f| |Y_{f+1}|`` (audible bins count), the correlation of
  the masks of adjacent bins (1: copying a neighbour's mask is exact);
- ``share_large``: the share of bins (with a non-zero mixture) where ``|M| > 1``;
- ``energy_large``: the share of the sources' energy in those bins;
- ``error_large``: the share of the copy error ``sum |(M_f - M_{f+1}) Y_{f+1}|^2``
  (what copying each bin's mask to the next gets wrong) at pairs where
  ``|M_f| > 1`` or ``|M_{f+1}| > 1``.

Example:
    >>> from bssmask.audio import load_sources
    >>> from bssmask.data import DEFAULT_SOURCES
    >>> sources, _, _ = load_sources(DEFAULT_SOURCES)
    >>> rows = mask_statistics(sources[:, :16000], ("ibm", "cirm"), n_fft=1022, hop=256, window="hann")
    >>> [r["mask"] for r in rows], rows[0]["share_large"]
    (['ibm', 'cirm'], 0.0)
"""

from __future__ import annotations

import math

import torch

from . import masks
from .ablation import mixture_of
from .stft import make_stft

STATISTICS = ("mix_adjacent_corr", "mask_adjacent_corr", "share_large", "energy_large", "error_large")
#: ``|M|`` above ``1 + LARGE_TOLERANCE`` counts as large (a mask clipped to 1 may exceed it by rounding).
LARGE_TOLERANCE = 1e-6


def _correlation(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Complex ``sum w a conj(b) / sqrt(sum w |a|^2 sum w |b|^2)`` (NaN when either side is zero)."""
    den = ((weight * a.abs() ** 2).sum() * (weight * b.abs() ** 2).sum()).sqrt()
    return (weight * a * b.conj()).sum() / den if den > 0 else torch.tensor(math.nan)


def _share(part: torch.Tensor, whole: torch.Tensor) -> float:
    return (part / whole).item() if whole > 0 else math.nan


def mask_statistics(sources: torch.Tensor, mask_specs, n_fft: int, hop: int, window: str,
                    mix: str = "sum", mixture: torch.Tensor | None = None) -> list[dict]:
    """:data:`STATISTICS` of each mask kind's oracle on one mixture.

    Args:
        sources: ``[n_src, T]`` waveforms at their original level.
        mask_specs: mask kind names or specs (``"cirm:max=1"``).
        n_fft, hop, window: the STFT (:func:`bssmask.stft.make_stft`).
        mix: ``"sum"`` or ``"mean"`` of the sources, or ``"file"``: ``mixture`` (``[T]``) itself
            (:func:`bssmask.ablation.mixture_of`).

    Returns:
        One dict per spec: ``mask`` and the statistics (floats; NaN where undefined).
    """
    encoder, _ = make_stft(n_fft, hop, window=window)
    mixture = mixture_of(sources, mix, mixture)
    with torch.no_grad():
        spectra = masks.from_asteroid(encoder(torch.cat([sources, mixture[None]])[None]))[0].to(torch.complex128)
    S, Y = spectra[:-1], spectra[-1]
    lo, hi = Y[:-1], Y[1:]
    weight = lo.abs() * hi.abs()
    active = Y.abs() > masks.zero_floor(Y.dtype)
    source_energy = (S.abs() ** 2).sum()
    rows = []
    for spec in mask_specs:
        kind = masks.get(spec)
        M = kind.oracle(S, Y).to(torch.complex128)
        error = ((M[:, :-1] - M[:, 1:]) * Y[1:]).abs() ** 2
        large = M.abs() > 1 + LARGE_TOLERANCE
        large_pair = large[:, :-1] | large[:, 1:]
        rows.append(dict(
            mask=spec,
            mix_adjacent_corr=_correlation(lo, hi, torch.ones_like(weight)).abs().item(),
            mask_adjacent_corr=_correlation(M[:, :-1], M[:, 1:], weight).real.item(),
            share_large=_share((large & active).sum().double(), active.sum().double() * S.shape[0]),
            energy_large=_share((S.abs() ** 2 * large).sum(), source_energy),
            error_large=_share((error * large_pair).sum(), error.sum()),
        ))
    return rows


COLUMNS = {"mask": None, **{name: ".3f" for name in STATISTICS}}


def write_statistics(out_dir, per_mixture: list[list[dict]], meta: dict) -> str:
    """Write ``mask_stats.{csv,md,json}``: means over mixtures (``_ci``: 95% half-widths); returns the Markdown."""
    from . import tables
    from .ablation import mean_rows

    rows = mean_rows(per_mixture, keys=("mask",), metrics=STATISTICS)
    columns = dict(COLUMNS)
    if len(per_mixture) > 1:
        columns.update({f"{name}_ci": ".3f" for name in STATISTICS})
    preamble = (
        f"Mask statistics across adjacent frequency bins: n_fft {meta['n_fft']}, hop {meta['hop']}, "
        f"{meta['window']} window, mix = {meta['mix']}, {len(per_mixture)} mixture(s) "
        "(bssmask.adjacent_bins: correlation of adjacent mixture bins and of adjacent mask values; "
        "share of bins with |M| > 1, of the source energy there, and of the neighbour-copy error there).\n\n"
    )
    paths = tables.write_table(out_dir, "mask_stats", rows, columns, meta, preamble, spread_suffix="_ci")
    return paths["md"].read_text()
