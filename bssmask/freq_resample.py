"""Frequency-axis down- and upsampling of masks and spectrograms.

Works on the frequency axis (dim ``-2``) of real tensors ``[..., F, T]`` or
torch complex tensors ``[..., F, T]``; the time axis is left as it is.

Methods:

- ``keep`` (downsampling only): keep every ``factor``-th bin (0, k, 2k, ...).
- ``nearest``, ``bilinear``, ``bicubic``: ``torch.nn.functional.interpolate``
  with ``align_corners=False`` (each low-resolution bin stands for ``factor``
  full-resolution bins). Since ``T`` keeps its size, bilinear and bicubic
  interpolate along frequency only. ``nearest`` copies bins, so it gives
  the same complex values in every space.

Spaces, for complex input (real input is interpolated as is):

- ``cartesian``: real and imaginary parts.
- ``polar``: magnitude and phase angle. The angle wraps at +-pi, so
  interpolating it between two bins whose phases straddle the cut gives a
  phase on the wrong side of the circle.
- ``phasor``: magnitude and the unit phasor ``e^{j angle}`` (its cosine and
  sine), renormalised after interpolation: polar without the wrap.

Magnitudes are clamped at zero after interpolation in ``polar`` and
``phasor`` (bicubic overshoot would otherwise flip the phase).

Example:
    >>> import torch
    >>> x = torch.randn(2, 8, 4, dtype=torch.complex64)
    >>> low = downsample(x, 2, method="keep")
    >>> low.shape
    torch.Size([2, 4, 4])
    >>> upsample(low, 8, method="nearest", space="polar").shape
    torch.Size([2, 8, 4])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .choices import DOWN_METHODS, SPACES, UP_METHODS, choose


def _nearest_bins(n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
    """The input bin each of ``n_out`` output bins copies under ``F.interpolate``'s ``"nearest"`` rule.

    Computed by ``F.interpolate`` itself (on the bin numbers), so gathering
    these bins gives its result exactly, without its 2-D kernel.
    """
    bins = torch.arange(n_in, dtype=torch.float32, device=device).reshape(1, 1, n_in, 1)
    return F.interpolate(bins, size=(n_out, 1), mode="nearest").reshape(n_out).long()


def _interpolate_real(x: torch.Tensor, n_freq: int, method: str) -> torch.Tensor:
    """Interpolate real ``[..., F, T]`` (or, ``nearest`` only, complex) to ``[..., n_freq, T]``."""
    if method == "nearest":
        return x.index_select(-2, _nearest_bins(x.shape[-2], n_freq, x.device))
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.interpolate(flat, size=(n_freq, x.shape[-1]), mode=method, align_corners=False)
    return out.reshape(*lead, n_freq, x.shape[-1])


def _check_method_space(method: str, space: str) -> None:
    choose("interpolation method", method, UP_METHODS)
    choose("space", space, SPACES)


def _parts(x: torch.Tensor, space: str) -> torch.Tensor:
    """The real parts ``[..., P, F, T]`` of complex ``x [..., F, T]`` that ``space`` interpolates:
    ``(real, imag)``, ``(magnitude, angle)`` or ``(magnitude, cos, sin)``."""
    if space == "cartesian":
        return torch.stack([x.real, x.imag], dim=-3)
    magnitude = x.abs()
    if space == "polar":
        return torch.stack([magnitude, x.angle()], dim=-3)
    unit = torch.sgn(x)
    return torch.stack([magnitude, unit.real, unit.imag], dim=-3)


def _from_parts(parts: torch.Tensor, space: str) -> torch.Tensor:
    """The complex tensor ``[..., F, T]`` of interpolated :func:`_parts` ``[..., P, F, T]``."""
    if space == "cartesian":
        return torch.complex(*parts.unbind(-3))
    magnitude = parts[..., 0, :, :].clamp_min(0.0)
    if space == "polar":
        return torch.polar(magnitude, parts[..., 1, :, :])
    return torch.polar(magnitude, torch.atan2(parts[..., 2, :, :], parts[..., 1, :, :]))


def _interpolate(x: torch.Tensor, n_freq: int, methods: tuple[str, ...], space: str) -> dict[str, torch.Tensor]:
    """``x`` interpolated to ``n_freq`` bins by each method, the space's parts of ``x`` computed once.

    ``nearest`` copies bins, which is the same in every space: it gathers
    the complex values themselves (no round trip through magnitude and angle).
    """
    needs_parts = x.is_complex() and any(method != "nearest" for method in methods)
    parts = _parts(x, space) if needs_parts else None
    return {method: _from_parts(_interpolate_real(parts, n_freq, method), space)
            if needs_parts and method != "nearest" else _interpolate_real(x, n_freq, method) for method in methods}


def check_factor(n_freq: int, factor: int) -> None:
    """Raise ``ValueError`` unless ``factor`` is a positive integer dividing ``n_freq``."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    if n_freq % factor:
        raise ValueError(f"factor {factor} does not divide the {n_freq} frequency bins")


def downsample(x: torch.Tensor, factor: int, method: str = "keep", space: str = "cartesian") -> torch.Tensor:
    """Downsample the frequency axis by ``factor``: ``[..., F, T] -> [..., F // factor, T]``.

    Args:
        x: real or complex ``[..., F, T]``, ``F`` divisible by ``factor``.
        factor: integer ratio; 1 returns ``x`` unchanged.
        method: one of :data:`DOWN_METHODS`.
        space: one of :data:`SPACES` (complex input with an interpolating method).
    """
    n_freq = x.shape[-2]
    check_factor(n_freq, factor)
    choose("downsampling method", method, DOWN_METHODS)
    if method != "keep":
        _check_method_space(method, space)
    if factor == 1:
        return x
    if method == "keep":
        return x[..., ::factor, :]
    return _interpolate(x, n_freq // factor, (method,), space)[method]


def upsample(x: torch.Tensor, n_freq: int, method: str = "nearest", space: str = "cartesian") -> torch.Tensor:
    """Upsample the frequency axis to ``n_freq`` bins: ``[..., F_low, T] -> [..., n_freq, T]``.

    Args:
        x: real or complex ``[..., F_low, T]``.
        n_freq: target number of bins; equal to ``F_low`` returns ``x`` unchanged.
        method: one of :data:`UP_METHODS`.
        space: one of :data:`SPACES` (ignored for real input).
    """
    return upsample_each(x, n_freq, (method,), space)[method]


def upsample_each(x: torch.Tensor, n_freq: int, methods=UP_METHODS, space: str = "cartesian") -> dict[str, torch.Tensor]:
    """:func:`upsample` of ``x`` by each of ``methods``: ``{method: [..., n_freq, T]}``.

    The same tensors as one :func:`upsample` call per method, with the
    space's parts of ``x`` (magnitude and angle, say) computed once.

    Example:
        >>> up = upsample_each(torch.ones(3, 4, 2, dtype=torch.complex64), 6, space="polar")
        >>> sorted(up), up["bicubic"].shape
        (['bicubic', 'bilinear', 'nearest'], torch.Size([3, 6, 2]))
    """
    methods = tuple(methods)
    for method in methods:
        _check_method_space(method, space)
    if n_freq == x.shape[-2]:
        return dict.fromkeys(methods, x)
    return _interpolate(x, n_freq, methods, space)
