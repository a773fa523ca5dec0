"""Complex time-frequency tensors: Asteroid's layout, guarded division, magnitude clipping, cIRM compression.

Asteroid stores complex spectra as real tensors with the real parts then the
imaginary parts along the frequency dim (``[..., 2F, T]``). :func:`to_asteroid`,
:func:`from_asteroid` and :func:`apply_tf` convert and work in that format:
real masks are ``[B, n_src, F, T]``, complex masks ``[B, n_src, 2F, T]``.
Divisions are guarded by :func:`safe_ratio` (no NaN or inf, in values or
gradients, at zero bins). :mod:`bssmask.masks` defines the mask kinds on these.

Example:
    >>> import torch
    >>> Y = torch.tensor([[1.0 + 1.0j, 0.0]])               # [F=1, T=2]
    >>> mask = safe_ratio(torch.tensor([[2.0j, 1.0]]), Y)   # 0 where Y is 0
    >>> mask
    tensor([[1.+1.j, 0.+0.j]])
    >>> to_asteroid(mask).shape, torch.equal(from_asteroid(to_asteroid(mask)), mask)
    (torch.Size([2, 2]), True)
"""

from __future__ import annotations

import torch
from asteroid_filterbanks import transforms

__all__ = ["zero_floor", "safe_ratio", "magnitude_tf", "to_asteroid", "from_asteroid", "apply_tf",
           "clip_magnitude", "check_compression", "compress_cirm", "decompress_cirm"]


def zero_floor(dtype: torch.dtype) -> float:
    """Magnitude under which a time-frequency bin counts as zero.

    ``sqrt(tiny)`` of the real dtype (``2^-63``, about 1.1e-19, for float32;
    ``2^-511``, about 1.5e-154, for float64): far below any audible bin. A
    ratio over a denominator above it stays finite while the numerator's
    magnitude is at most ``finfo.max * zero_floor``: just under ``2^65``,
    about 3.7e19, for float32 and ``2^513``, about 2.7e154, for float64 (real
    and complex division alike); beyond, :func:`safe_ratio` can give ``inf``.
    STFT bins of audio in ``[-1, 1]`` are at most ``n_fft`` in magnitude.

    Example:
        >>> limit = torch.finfo(torch.float32).max * zero_floor(torch.float32)   # about 2^65
        >>> den = torch.tensor(2 * zero_floor(torch.float32))
        >>> safe_ratio(torch.tensor(limit), den).isfinite().item(), safe_ratio(torch.tensor(4 * limit), den).item()
        (True, inf)
    """
    real = torch.empty((), dtype=dtype).real.dtype if dtype.is_complex else dtype
    return torch.finfo(real).tiny ** 0.5


def safe_ratio(num: torch.Tensor, den: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``num / den`` with ``fill`` where ``|den|`` is below :func:`zero_floor`.

    ``num`` and ``den`` broadcast; either may be complex. The guarded branch
    never sees the small denominator, so no NaN or inf reaches gradients.
    """
    ok = den.abs() > zero_floor(den.dtype)
    safe_den = torch.where(ok, den, torch.ones_like(den))
    out = num / safe_den
    return torch.where(ok, out, torch.full_like(out, fill))


def magnitude_tf(tf: torch.Tensor) -> torch.Tensor:
    """``|X|`` ``[..., F, T]`` of an Asteroid complex ``[..., 2F, T]``, 0 below :func:`zero_floor`.

    Bins whose parts are both below the floor are 0, and their gradient is 0
    instead of the ``0/0`` of ``hypot`` at the origin.

    Example:
        >>> magnitude_tf(torch.tensor([[3.0], [0.0], [4.0], [0.0]]))   # 2F = 4: bins 3+4j and 0
        tensor([[5.],
                [0.]])
    """
    re, im = tf.chunk(2, dim=-2)
    nonzero = torch.maximum(re.abs(), im.abs()) > zero_floor(tf.dtype)
    one = torch.ones_like(re)
    mag = torch.hypot(torch.where(nonzero, re, one), torch.where(nonzero, im, one))
    return torch.where(nonzero, mag, torch.zeros_like(mag))


def to_asteroid(mask: torch.Tensor) -> torch.Tensor:
    """Mask in Asteroid's format: real masks unchanged, complex ``[..., F, T]`` to ``[..., 2F, T]``."""
    return transforms.from_torch_complex(mask, dim=-2) if mask.is_complex() else mask


def from_asteroid(tf_rep: torch.Tensor) -> torch.Tensor:
    """Asteroid complex ``[..., 2F, T]`` to a torch complex ``[..., F, T]``."""
    return transforms.to_torch_complex(tf_rep, dim=-2)


def apply_tf(mask: torch.Tensor, mix_tf: torch.Tensor) -> torch.Tensor:
    """Apply a mask in Asteroid's format to an Asteroid mixture representation.

    Args:
        mask: real ``[B, n_src, F, T]`` or complex (Asteroid) ``[B, n_src, 2F, T]``.
        mix_tf: Asteroid complex mixture ``[B, 2F, T]``.

    Returns:
        Asteroid complex estimates ``[B, n_src, 2F, T]``.
    """
    mix = mix_tf.unsqueeze(-3)
    if mask.shape[-2] == mix_tf.shape[-2]:
        return transforms.apply_complex_mask(mix, mask, dim=-2)
    if 2 * mask.shape[-2] == mix_tf.shape[-2]:
        return transforms.apply_mag_mask(mix, mask, dim=-2)
    raise ValueError(
        f"mask has {mask.shape[-2]} frequency rows; expected F={mix_tf.shape[-2] // 2} "
        f"(real) or 2F={mix_tf.shape[-2]} (complex)"
    )


def clip_magnitude(mask: torch.Tensor, max: float) -> torch.Tensor:
    """Complex ``mask`` with its magnitude clipped to ``max`` and its phase kept.

    ``mask * max / max(|mask|, max)``: bins with ``|mask| <= max`` are
    unchanged (no division by a small magnitude anywhere).

    Example:
        >>> clip_magnitude(torch.tensor([0.5j, -4.0 + 3.0j]), 1.0)
        tensor([ 0.0000+0.5000j, -0.8000+0.6000j])
    """
    return mask * (max / mask.abs().clamp_min(max))


def check_compression(K: float, C: float, what: str = "cIRM") -> None:
    """Raise ``ValueError`` unless the compression constants ``K`` and ``C`` are positive.

    ``what`` names the compressed mask in the message (e.g. a head's kind).
    """
    if not (K > 0 and C > 0):
        raise ValueError(f"{what} compression needs K > 0 and C > 0, got K={K}, C={C}")


def compress_cirm(mask: torch.Tensor, K: float = 10.0, C: float = 0.1) -> torch.Tensor:
    """Williamson et al. (2016) compression of a cIRM, part by part, into ``(-K, K)``.

    Each real and imaginary part ``x`` becomes
    ``K (1 - e^{-C x}) / (1 + e^{-C x}) = K tanh(C x / 2)`` (the tanh form
    cannot overflow).

    Args:
        mask: torch complex ``[..., F, T]`` (both parts compressed), or a real
            tensor compressed elementwise, e.g. Asteroid's ``[..., 2F, T]``.
        K: bound of the compressed values.
        C: steepness.
    """
    check_compression(K, C)
    if mask.is_complex():
        return torch.complex(compress_cirm(mask.real, K, C), compress_cirm(mask.imag, K, C))
    return K * torch.tanh(0.5 * C * mask)


def decompress_cirm(compressed: torch.Tensor, K: float = 10.0, C: float = 0.1) -> torch.Tensor:
    """Exact inverse of :func:`compress_cirm`: ``x = -(1/C) ln((K - y) / (K + y)) = (2/C) atanh(y / K)``.

    ``y / K`` is first clamped to ``+-(1 - eps)`` of the dtype, so values at
    or beyond the bound decompress to a finite value (about ``+-166`` for
    float32 with the defaults) with finite gradients. Same input formats as
    :func:`compress_cirm`.
    """
    check_compression(K, C)
    if compressed.is_complex():
        return torch.complex(decompress_cirm(compressed.real, K, C), decompress_cirm(compressed.imag, K, C))
    limit = 1.0 - torch.finfo(compressed.dtype).eps
    return (2.0 / C) * torch.atanh((compressed / K).clamp(-limit, limit))
