"""Frequency-axis down- and upsampling of masks and spectrograms.

Works on the frequency axis (dim ``-2``) of real tensors ``[..., F, T]`` or
torch complex tensors ``[..., F, T]``; the time axis is left as it is.

Methods:

- ``keep`` (downsampling only): keep every ``factor``-th bin (0, k, 2k, ...).
- ``nearest``, ``bilinear``, ``bicubic``: ``torch.nn.functional.interpolate``
  with ``align_corners=False`` (each low-resolution bin stands for ``factor``
  full-resolution bins). Since ``T`` keeps its size, bilinear and bicubic
  interpolate along frequency only.

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

from .names import DOWN_METHODS, SPACES, UP_METHODS


def _interpolate_real(x: torch.Tensor, n_freq: int, method: str) -> torch.Tensor:
    """Interpolate real ``[..., C, F, T]`` to ``[..., C, n_freq, T]``."""
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    kwargs = {} if method == "nearest" else {"align_corners": False}
    out = F.interpolate(flat, size=(n_freq, x.shape[-1]), mode=method, **kwargs)
    return out.reshape(*lead, n_freq, x.shape[-1])


def _check_method_space(method: str, space: str) -> None:
    if method not in UP_METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; choose from {', '.join(UP_METHODS)}")
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; choose from {', '.join(SPACES)}")


def _interpolate(x: torch.Tensor, n_freq: int, method: str, space: str) -> torch.Tensor:
    if not x.is_complex():
        return _interpolate_real(x, n_freq, method)
    if space == "cartesian":
        parts = torch.stack([x.real, x.imag], dim=-3)
        re, im = _interpolate_real(parts, n_freq, method).unbind(-3)
        return torch.complex(re, im)
    mag = _interpolate_real(x.abs(), n_freq, method).clamp_min(0.0)
    if space == "polar":
        angle = _interpolate_real(x.angle(), n_freq, method)
    else:
        unit = torch.sgn(x)
        cos_sin = torch.stack([unit.real, unit.imag], dim=-3)
        cos, sin = _interpolate_real(cos_sin, n_freq, method).unbind(-3)
        angle = torch.atan2(sin, cos)
    return torch.polar(mag, angle)


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
    if method not in DOWN_METHODS:
        raise ValueError(f"unknown downsampling method {method!r}; choose from {', '.join(DOWN_METHODS)}")
    if method != "keep":
        _check_method_space(method, space)
    if factor == 1:
        return x
    if method == "keep":
        return x[..., ::factor, :]
    return _interpolate(x, n_freq // factor, method, space)


def upsample(x: torch.Tensor, n_freq: int, method: str = "nearest", space: str = "cartesian") -> torch.Tensor:
    """Upsample the frequency axis to ``n_freq`` bins: ``[..., F_low, T] -> [..., n_freq, T]``.

    Args:
        x: real or complex ``[..., F_low, T]``.
        n_freq: target number of bins; equal to ``F_low`` returns ``x`` unchanged.
        method: one of :data:`UP_METHODS`.
        space: one of :data:`SPACES` (ignored for real input).
    """
    _check_method_space(method, space)
    if n_freq == x.shape[-2]:
        return x
    return _interpolate(x, n_freq, method, space)
