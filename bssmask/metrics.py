"""Separation metrics on batches: BSS-Eval SDR/SIR/SAR, SI-SDR and L1.

BSS-Eval is ``fast_bss_eval``'s method (same values as mir_eval's
``bss_eval_sources``, 512-tap distortion filter, computed in float64 here),
written out here with its Toeplitz matrices (``fast_bss_eval.torch.linalg``)
and two changes. Its linear systems (Toeplitz and block-Toeplitz correlation
matrices, symmetric positive semi-definite) are solved by :func:`spd_solve`, a
Cholesky factorisation, instead of the LU solve fast_bss_eval uses: torch
2.9's MKL LU solve fails or hangs on these systems under
``torch.set_num_threads(n > 1)``. Its correlations are computed with FFTs of
``T + 512`` samples rounded up to a 5-smooth length (:func:`fft_length`)
instead of the power of two above ``2 T``: the same values, two to four times
fewer FFT operations on long signals.

All functions take ``ref`` and ``est`` of shape ``[..., n_src, T]`` (torch or
NumPy) and return float64 tensors ``[..., n_src]`` on the device of ``est``
(CPU or GPU: fast_bss_eval's torch backend). A metric that is undefined
is NaN: SDR, SIR, SAR and SI-SDR against a silent reference source, and SIR
and SAR of every source of an item that has a silent reference (BSS-Eval
projects on all references). Callers write NaN as ``null`` in JSON and leave it
out of means. Decibel values are clamped to ``[-MAX_DB, MAX_DB]`` (300 dB), so
an exact estimate (an infinite ratio) or a silent estimate (SI-SDR of minus
infinity) stays a finite, comparable number.

Example:
    >>> import torch
    >>> ref = torch.randn(2, 8000, dtype=torch.float64)
    >>> m = separation_metrics(ref, ref + 0.01 * torch.randn(2, 8000, dtype=torch.float64))
    >>> sorted(m)
    ['l1', 'sar', 'sdr', 'si_sdr', 'sir']
    >>> bool((m["sdr"] > 35).all())
    True
"""

from __future__ import annotations

import numpy as np
import torch
from fast_bss_eval.torch.linalg import block_toeplitz, toeplitz

from .choices import METRICS, choose

MAX_DB = 300.0
#: Taps of BSS-Eval's distortion filter (mir_eval's and fast_bss_eval's default).
FILTER_LENGTH = 512


def spd_solve(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve ``matrix @ x = rhs`` for symmetric positive semi-definite matrices, with any thread count.

    A Cholesky factorisation; the batch items whose factorisation fails (a
    singular matrix, e.g. the correlation matrix of a pure tone) are solved
    by least squares instead (pivoted QR, minimum-norm solution, as mir_eval
    falls back to ``lstsq``). Same calling convention as ``torch.linalg.solve``.

    Args:
        matrix: ``[..., n, n]``.
        rhs: ``[..., n, k]``, or ``[..., n]`` (one vector per matrix).

    Returns:
        ``x`` with the shape of ``rhs``.

    Example:
        >>> a = torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64)
        >>> spd_solve(a, torch.tensor([2.0, 1.0], dtype=torch.float64))
        tensor([0.5000, 0.0000], dtype=torch.float64)
    """
    vector = rhs.dim() == matrix.dim() - 1 and rhs.shape == matrix.shape[:-1]
    rhs = rhs.unsqueeze(-1) if vector else rhs
    batch = np.broadcast_shapes(matrix.shape[:-2], rhs.shape[:-2])  # torch's imports sympy (0.5 s) on first use
    matrix, rhs = matrix.expand(*batch, *matrix.shape[-2:]), rhs.expand(*batch, *rhs.shape[-2:])
    factor, info = torch.linalg.cholesky_ex(matrix)
    solution = torch.cholesky_solve(rhs, factor)
    singular = info != 0
    if singular.any():  # gelsy (pivoted QR) runs on the CPU only
        fallback = torch.linalg.lstsq(matrix[singular].cpu(), rhs[singular].cpu(), driver="gelsy").solution
        solution[singular] = fallback.to(solution.device)
    return solution.squeeze(-1) if vector else solution


def fft_length(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n``: a length FFT libraries transform about as fast as a power of two.

    Example:
        >>> fft_length(288512), fft_length(1025)
        (291600, 1080)
    """
    best = 1 << (n - 1).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            length = power35
            while length < n:
                length *= 2
            best = min(best, length)
            power35 *= 3
        power5 *= 5
    return best


def _spectra(x: torch.Tensor, y: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Real FFTs of ``x`` and ``y`` long enough for correlations at lags ``-length .. length - 1`` without wrap-around."""
    n_fft = fft_length(max(x.shape[-1], y.shape[-1]) + length)
    return torch.fft.rfft(x, n=n_fft), torch.fft.rfft(y, n=n_fft), n_fft


def _pairwise_xcorr(X: torch.Tensor, Y: torch.Tensor, n_fft: int, length: int) -> torch.Tensor:
    """Cross-correlations ``[..., c, d, length]`` (lags ``0 .. length - 1``) of every channel pair, from their spectra."""
    return torch.fft.irfft(X[..., :, None, :].conj() * Y[..., None, :, :], n=n_fft)[..., :length]


def _correlations(x: torch.Tensor, y: torch.Tensor, length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """fast_bss_eval's ``compute_stats_2`` (the same values) with the shortest FFT that needs.

    fast_bss_eval transforms at the power of two above ``2 T``, four times
    more than the ``T + 512`` samples the 512 lags of BSS-Eval need on long
    signals. ``x [..., c, T]``, ``y [..., d, T]``: auto-correlations
    ``[..., 2 length, c, c]`` (lags ``0 .. length - 1`` then ``-length .. -1``) and
    cross-correlations ``[..., length, c, d]``.
    """
    length = x.shape[-1] if length is None else length
    X, Y, n_fft = _spectra(x, y, length)
    acf = torch.fft.irfft(X[..., :, None, :] * X[..., None, :, :].conj(), n=n_fft)
    acf = torch.cat([acf[..., :length], acf[..., -length:]], dim=-1).movedim(-1, -3)
    return acf, _pairwise_xcorr(X, Y, n_fft, length).movedim(-1, -3)


def _sdr_correlations(x: torch.Tensor, y: torch.Tensor, length: int | None = None,
                      pairwise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """fast_bss_eval's ``compute_stats`` (the SDR's statistics, the same values) with the shortest FFT that needs.

    Auto-correlations ``[..., c, length]`` of ``x``; cross-correlations
    ``[..., c, length, d]`` with every channel of ``y`` (``pairwise``), else
    ``[..., c, length]`` channel by channel.
    """
    length = x.shape[-1] if length is None else length
    X, Y, n_fft = _spectra(x, y, length)
    acf = torch.fft.irfft(X.real**2 + X.imag**2, n=n_fft)[..., :length]
    if pairwise:
        return acf, _pairwise_xcorr(X, Y, n_fft, length).transpose(-1, -2)
    return acf, torch.fft.irfft(X.conj() * Y, n=n_fft)[..., :length]


def _unit(x: torch.Tensor) -> torch.Tensor:
    """``x [..., T]`` scaled to unit norm over time (norms below 1e-6 count as 1e-6, as in fast_bss_eval)."""
    return x / torch.clamp(x.norm(dim=-1, keepdim=True), min=1e-6)


def _sdr_coherence(ref: torch.Tensor, est: torch.Tensor, pairwise: bool = False) -> torch.Tensor:
    """Square cosine of each estimate with the filtered subspace of its reference (fast_bss_eval's ``sdr_loss``).

    ``ref [..., c, T]``, ``est [..., d, T]``: ``[..., c]`` with ``c == d``,
    or ``[..., c, d]`` for every pair with ``pairwise``.
    """
    acf, xcorr = _sdr_correlations(_unit(ref), _unit(est), FILTER_LENGTH, pairwise)
    solution = spd_solve(toeplitz(acf), xcorr)
    return torch.einsum("...lc,...lc->...c" if pairwise else "...l,...l->...", xcorr, solution)


def _square_cosines(ref: torch.Tensor, est: torch.Tensor, pairwise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """fast_bss_eval's ``square_cosine_metrics``: the SDR's and the SAR's square cosines of each estimate.

    The SDR's with the filtered subspace of its reference, the SAR's with that
    of all references. ``ref [..., c, T]``, ``est [..., d, T]``: each
    ``[..., c]`` with ``c == d``, or ``[..., c, d]`` for every pair with ``pairwise``.
    """
    acf, xcorr = _correlations(_unit(ref), _unit(est), FILTER_LENGTH)
    acf_sdr = torch.diagonal(acf, dim1=-2, dim2=-1).transpose(-2, -1)[..., :FILTER_LENGTH]
    xcorr_sdr = xcorr.transpose(-3, -2) if pairwise else torch.diagonal(xcorr, dim1=-2, dim2=-1).transpose(-2, -1)
    solution = spd_solve(toeplitz(acf_sdr), xcorr_sdr)
    coh_sdr = torch.einsum("...lc,...lc->...c" if pairwise else "...l,...l->...", xcorr_sdr, solution)
    xcorr = xcorr.reshape(xcorr.shape[:-3] + (-1,) + xcorr.shape[-1:])
    coh_sar = torch.einsum("...lc,...lc->...c", xcorr, spd_solve(block_toeplitz(acf), xcorr))
    if pairwise:
        coh_sdr, coh_sar = torch.broadcast_tensors(coh_sdr, coh_sar[..., None, :])
    return coh_sdr, coh_sar


def _best_assignment(scores: dict[str, torch.Tensor], by: str) -> dict[str, torch.Tensor]:
    """Pairwise ``scores`` ``[N, n_ref, n_est]`` of the estimates that maximise ``scores[by]``, ``[N, n_ref]`` each."""
    from asteroid.losses import PITLossWrapper  # imports Asteroid's models (2 s): only when asked to permute

    _, est_of_ref = PITLossWrapper.find_best_perm(-scores[by].transpose(-1, -2))  # [N, n_ref]
    return {k: v.gather(-1, est_of_ref[..., None]).squeeze(-1) for k, v in scores.items()}


def _as_float64(x) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(torch.float64)


def _clamp_db(x: torch.Tensor) -> torch.Tensor:
    """Clamp decibels to ``[-MAX_DB, MAX_DB]``, keeping NaN (undefined) as is."""
    return x.clamp(-MAX_DB, MAX_DB)


def _prepare(ref, est) -> tuple[torch.Tensor, torch.Tensor]:
    """Both as float64 tensors on ``est``'s device; ``ref`` of ``est``'s shape, or ``[n_src, T]``.

    A ``[n_src, T]`` reference is shared by every item of ``est``: it stays
    as it is (broadcast by the metric, without copies), so ``ref.dim() <
    est.dim()`` says the reference is shared.
    """
    ref, est = _as_float64(ref), _as_float64(est)
    ref = ref.to(est.device)
    shared = 2 <= ref.dim() < est.dim() and ref.shape == est.shape[-2:]
    if not shared and (ref.dim() < 2 or ref.shape != est.shape):
        raise ValueError(
            f"ref and est must share a shape [..., n_src, T]; got {tuple(ref.shape)} and {tuple(est.shape)}"
        )
    return ref, est


def bss_eval(ref, est, compute_permutation: bool = False) -> dict[str, torch.Tensor]:
    """BSS-Eval v3 SDR, SIR, SAR (dB), ``[..., n_src]`` each.

    Args:
        ref: reference sources ``[..., n_src, T]``, or ``[n_src, T]`` shared by
            every item of ``est`` (then the reference statistics are factored
            once for all estimates: much faster for many estimates of one mixture).
        est: estimates ``[..., n_src, T]``.
        compute_permutation: reorder estimates to the best permutation (as
            mir_eval does by default); False scores them in the given order.
    """
    ref, est = _prepare(ref, est)
    if ref.dim() < est.dim() and not compute_permutation and (ref.pow(2).sum(-1) > 0).all():
        return _bss_eval_shared_ref(ref, est)
    return _bss_eval_items(ref.expand_as(est), est, compute_permutation)


def _bss_eval_items(ref: torch.Tensor, est: torch.Tensor, compute_permutation: bool) -> dict[str, torch.Tensor]:
    """BSS-Eval of each item of ``[..., n_src, T]`` against its own references (NaN where undefined)."""
    lead, (n_src, length) = ref.shape[:-2], ref.shape[-2:]
    ref_flat, est_flat = ref.reshape(-1, n_src, length), est.reshape(-1, n_src, length)
    out = {k: torch.full(ref_flat.shape[:-1], float("nan"), dtype=torch.float64, device=est.device)
           for k in ("sdr", "sir", "sar")}
    active = ref_flat.pow(2).sum(-1) > 0  # [N, n_src]
    full = active.all(-1)
    if full.any():
        coh_sdr, coh_sar = _square_cosines(ref_flat[full], est_flat[full], pairwise=compute_permutation)
        scores = {"sdr": coh_sdr, "sir": coh_sdr / coh_sar, "sar": coh_sar}
        scores = {k: _coherence_db(v) for k, v in scores.items()}
        for key, val in (_best_assignment(scores, by="sir") if compute_permutation else scores).items():
            out[key][full] = val
    # Items with a silent reference: SDR of the active sources on their own
    # (SIR and SAR, which project on every reference, stay undefined), in the
    # given order unless asked to permute (one active source needs no permutation).
    for i in torch.nonzero(~full).flatten().tolist():
        keep = active[i]
        if compute_permutation and keep.sum() > 1:
            pairs = {"sdr": _coherence_db(_sdr_coherence(ref_flat[i, keep], est_flat[i, keep], pairwise=True))}
            out["sdr"][i, keep] = _best_assignment({k: v[None] for k, v in pairs.items()}, by="sdr")["sdr"][0]
        elif keep.any():
            out["sdr"][i, keep] = _coherence_db(_sdr_coherence(ref_flat[i, keep], est_flat[i, keep]))
    return {k: v.reshape(*lead, n_src) for k, v in out.items()}


def _coherence_db(coherence: torch.Tensor) -> torch.Tensor:
    """BSS-Eval ratio in dB from a square cosine ``c``: ``10 log10(c / (1 - c))``.

    ``c`` is clamped to [0, 1]: rounding can push it just past 1 for a
    near-exact estimate (a ratio over about 120 dB), which is then +MAX_DB.
    """
    coherence = coherence.clamp(0.0, 1.0)
    return _clamp_db(10 * torch.log10(coherence / (1 - coherence)))


def _bss_eval_shared_ref(ref: torch.Tensor, est: torch.Tensor) -> dict[str, torch.Tensor]:
    """BSS-Eval of estimates ``[..., n_src, T]`` against one set of active references ``[n_src, T]``.

    All estimates are scored as extra channels against the same references,
    so the block-Toeplitz system of the references is solved once with many
    right-hand sides (fast_bss_eval's square cosine metrics, pairwise form).
    """
    lead, (n_src, length) = est.shape[:-2], est.shape[-2:]
    flat = est.reshape(1, -1, length)  # [1, N * n_src, T]
    coh_sdr, coh_sar = _square_cosines(ref[None], flat, pairwise=True)  # [1, n_ref, N * n_src]
    channel = torch.arange(flat.shape[1], device=est.device)
    coh_sdr, coh_sar = coh_sdr[0, channel % n_src, channel], coh_sar[0, channel % n_src, channel]
    out = {"sdr": coh_sdr, "sir": coh_sdr / coh_sar, "sar": coh_sar}
    return {k: _coherence_db(v).reshape(*lead, n_src) for k, v in out.items()}


def sdr(ref, est) -> torch.Tensor:
    """BSS-Eval SDR alone (dB), ``[..., n_src]``: :func:`bss_eval`'s SDR without its SIR and SAR projections.

    SDR projects each estimate on its own reference's filtered subspace only
    (one 512 x 512 Toeplitz system per reference), where SIR and SAR need the
    block-Toeplitz system of all references; for ``ref [n_src, T]`` shared by
    ``est [..., n_src, T]`` each reference's system is solved once for all its
    estimates. Estimates are scored in the given order; NaN against a silent
    reference.

    Example:
        >>> ref = torch.randn(2, 4000, dtype=torch.float64)
        >>> est = ref + 0.1 * torch.randn(3, 2, 4000, dtype=torch.float64)
        >>> bool(torch.allclose(sdr(ref, est), bss_eval(ref, est)["sdr"]))
        True
    """
    ref, est = _prepare(ref, est)
    n_src, length = ref.shape[-2:]
    out = torch.full(est.shape[:-1], float("nan"), dtype=torch.float64, device=est.device)
    if ref.dim() < est.dim():  # a shared reference (_prepare)
        flat, flat_out = est.reshape(1, -1, n_src, length), out.view(-1, n_src)
        for k, reference in enumerate(ref):
            if reference.pow(2).sum() > 0:  # [1, 1, T] against [1, N, T]: one system, N right-hand sides
                flat_out[:, k] = _coherence_db(_sdr_coherence(reference[None, None], flat[:, :, k], pairwise=True)[0, 0])
    else:
        active = ref.pow(2).sum(-1) > 0
        out[active] = _coherence_db(_sdr_coherence(ref[active], est[active]))
    return out


def _dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``<x, y>`` over the last axis, ``[...]``; a ``y`` with fewer leading axes (a shared reference) is
    broadcast without copies (einsum's matrix products: several times faster than ``vecdot`` here)."""
    return torch.einsum("...t,...t->...", x, y)


def si_sdr(ref, est) -> torch.Tensor:
    """Scale-invariant SDR (dB, no mean removal) of each estimate against its reference, ``[..., n_src]``.

    ``10 log10(|a r|^2 / |e - a r|^2)`` with ``a = <e, r> / |r|^2``, in
    float64 and in the given order (``fast_bss_eval.si_sdr`` always solves a
    permutation, which a silent reference makes fail; Asteroid's adds an
    epsilon that caps exact estimates). NaN for a silent reference,
    ``-MAX_DB`` for a silent estimate.
    """
    ref, est = _prepare(ref, est)
    ref_energy = _dot(ref, ref)
    silent_ref, silent_est = ref_energy == 0, _dot(est, est) == 0
    scale = _dot(est, ref) / torch.where(silent_ref, torch.ones_like(ref_energy), ref_energy)
    residual = torch.addcmul(est, scale[..., None], ref, value=-1)  # est - scale * ref
    value = 10 * torch.log10(scale**2 * ref_energy / _dot(residual, residual))
    value = torch.where(silent_est, torch.full_like(value, -MAX_DB), value)
    return _clamp_db(torch.where(silent_ref, torch.full_like(value, float("nan")), value))


def l1(ref, est) -> torch.Tensor:
    """Mean absolute sample error ``mean_t |est - ref|``, ``[..., n_src]`` (the source post's L1)."""
    ref, est = _prepare(ref, est)
    return (est - ref).abs_().mean(-1)


def separation_metrics(ref, est, metrics=METRICS) -> dict[str, torch.Tensor]:
    """The ``metrics`` (default all of :data:`METRICS`) for estimates in reference order, each ``[..., n_src]``.

    Only what is asked is computed: without ``sir`` and ``sar``, the SDR comes
    from :func:`sdr` (the same values, without the SIR/SAR projections).
    """
    for name in metrics:
        choose("metric", name, METRICS)
    est = _as_float64(est)  # once for every metric (ref is kept unbroadcast: bss_eval's shared-reference path)
    ref = _as_float64(ref).to(est.device)
    scores = {}
    if {"sir", "sar"} & set(metrics):
        scores.update(bss_eval(ref, est))
    elif "sdr" in metrics:
        scores["sdr"] = sdr(ref, est)
    for name, metric in (("si_sdr", si_sdr), ("l1", l1)):
        if name in metrics:
            scores[name] = metric(ref, est)
    return {k: scores[k] for k in metrics}
