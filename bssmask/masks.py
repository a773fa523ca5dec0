"""Time-frequency mask kinds: one definition per kind for oracle, target, head and loss.

Every kind is computed from the complex STFTs of the true sources and of the
mixture, as torch complex tensors:

- ``sources``: complex ``[..., n_src, F, T]``
- ``mixture``: complex ``[..., F, T]`` (usually the sum or mean of the sources)

and returns a mask of shape ``[..., n_src, F, T]``: real for ``ibm``, ``irm``,
``wiener``, ``iam`` and ``psm``, complex for ``cirm``. A kind is named by a spec with its options,
``"kind:key=value"`` (:func:`get`, e.g. ``"cirm:max=1"``, ``"iam:max=2"``).
Applying a mask is the
product ``mask * mixture`` for real and complex kinds alike.

A kind also names the head that predicts it (``head_type``, a key of
``bssmask.heads.HEAD_TYPES``) and the loss that trains it by default
(``default_loss``, a name of ``bssmask.losses.LOSSES``), so a new kind is one
:class:`MaskKind` subclass made known with :func:`register`; heads and losses
read both from it.

Masks in Asteroid's format (real ``[B, n_src, F, T]``, complex
``[B, n_src, 2F, T]``) come from :meth:`MaskKind.oracle_tf`; the conversions,
the guarded division and the cIRM compression are in :mod:`bssmask.complex_tf` (and
importable from here).

Divisions are guarded. Where the denominator of a bin is zero (or below
:func:`zero_floor`), the rule is:

- ``irm``, ``wiener``: every source gets ``1 / n_src`` (the masks still sum to
  one); a silent source gets 0 wherever another source has energy.
- ``iam``, ``psm``, ``cirm``: the mask is 0 where the mixture bin is zero (the
  masked output is zero there whatever the mask).
- ``ibm``: a source gets 1 only where it is strictly louder than every other
  source, so at all-zero bins and exact ties no source gets 1.

Example:
    >>> import torch
    >>> from bssmask import masks
    >>> S = torch.randn(2, 3, 5, dtype=torch.complex64)   # 2 sources, F=3, T=5
    >>> Y = S.sum(0)
    >>> kind = masks.get("cirm")
    >>> torch.allclose(kind.apply(kind.oracle(S, Y), Y), S, atol=1e-5)
    True
"""

from __future__ import annotations

import torch

from .choices import choose
from .complex_tf import (apply_tf, check_compression, clip_magnitude, compress_cirm, decompress_cirm, from_asteroid,
                 magnitude_tf, safe_ratio, to_asteroid, zero_floor)

__all__ = [
    "KINDS",
    "MaskKind",
    "IdealBinaryMask",
    "RatioMask",
    "IdealAmplitudeMask",
    "PhaseSensitiveMask",
    "ComplexRatioMask",
    "clip_magnitude",
    "check_compression",
    "compress_cirm",
    "decompress_cirm",
    "register",
    "unregister",
    "kind_class",
    "get",
    "parse_spec",
    "zero_floor",
    "safe_ratio",
    "magnitude_tf",
    "to_asteroid",
    "from_asteroid",
    "apply_tf",
]


class MaskKind:
    """A mask kind: its oracle definition, value range and application.

    Attributes:
        name: registry name.
        is_complex: whether masks are complex (Asteroid ``2F`` rows) or real (``F`` rows).
        bounds: ``(low, high)`` of real masks, or of the magnitude of complex
            masks; ``None`` for an unbounded side.
        head_type: the head that predicts the kind, a key of
            ``bssmask.heads.HEAD_TYPES``: ``"real"`` (a real mask in
            ``bounds``), ``"binary"`` (probabilities, hard masks at inference)
            or ``"complex"``. A class attribute.
        default_loss: the loss that trains the kind by default, a name of
            ``bssmask.losses.LOSSES``. A class attribute.
    """

    name: str = ""
    is_complex: bool = False
    bounds: tuple[float | None, float | None] = (None, None)
    head_type: str = "real"
    default_loss: str = "mask_mse"

    def oracle(self, sources: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        """Oracle mask ``[..., n_src, F, T]`` from complex ``sources [..., n_src, F, T]`` and ``mixture [..., F, T]``."""
        raise NotImplementedError

    def apply(self, mask: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        """Masked mixture: complex ``[..., n_src, F, T]``."""
        return mask * mixture.unsqueeze(-3)

    def oracle_tf(self, sources_tf: torch.Tensor, mix_tf: torch.Tensor) -> torch.Tensor:
        """Oracle mask in Asteroid's format from Asteroid spectra.

        Args:
            sources_tf: ``[B, n_src, 2F, T]``.
            mix_tf: ``[B, 2F, T]``.

        Returns:
            ``[B, n_src, F, T]`` (real kinds) or ``[B, n_src, 2F, T]`` (complex kinds).
        """
        return to_asteroid(self.oracle(from_asteroid(sources_tf), from_asteroid(mix_tf)))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({opts})"


def _check_sources(sources: torch.Tensor, mixture: torch.Tensor) -> None:
    if sources.dim() < 3 or sources.shape[-3] < 2:
        raise ValueError(f"sources must be [..., n_src>=2, F, T], got shape {tuple(sources.shape)}")
    if sources.shape[-2:] != mixture.shape[-2:]:
        raise ValueError(
            f"sources {tuple(sources.shape)} and mixture {tuple(mixture.shape)} differ in [F, T]"
        )


class IdealBinaryMask(MaskKind):
    """IBM: ``1[|S_i| > max_{j != i} |S_j|]``, or ``1[|S_i| > |Y - S_i|]`` with ``against="rest"``.

    Values in {0, 1}. With ``against="max"`` (default) the masks of a bin
    sum to at most one; ties and all-zero bins give 0 to every source.
    """

    name = "ibm"
    bounds = (0.0, 1.0)
    head_type = "binary"
    default_loss = "mask_bce"

    def __init__(self, against: str = "max"):
        if against not in ("max", "rest"):
            raise ValueError(f"against must be 'max' or 'rest', got {against!r}")
        self.against = against

    def oracle(self, sources, mixture):
        _check_sources(sources, mixture)
        mag = sources.abs()
        if self.against == "rest":
            other = (mixture.unsqueeze(-3) - sources).abs()
        else:
            top2 = mag.topk(2, dim=-3).values
            first, second = top2.narrow(-3, 0, 1), top2.narrow(-3, 1, 1)
            other = torch.where(mag >= first, second, first)
        return (mag > other).to(mag.dtype)


class RatioMask(MaskKind):
    """Ratio mask ``|S_i|^p / sum_j |S_j|^p``: IRM (``p=1``) or Wiener-like (``p=2``).

    ``sqrt=True`` takes the square root (the "square-root Wiener" variant).
    Values in [0, 1]; without ``sqrt`` the masks of a bin sum to one. Bins
    where every source is zero get ``1 / n_src``.
    """

    bounds = (0.0, 1.0)

    def __init__(self, power: float = 1.0, sqrt: bool = False, name: str = "irm"):
        self.power = power
        self.sqrt = sqrt
        self.name = name

    def oracle(self, sources, mixture):
        _check_sources(sources, mixture)
        energy = sources.abs() ** self.power
        mask = safe_ratio(energy, energy.sum(-3, keepdim=True), fill=1.0 / sources.shape[-3])
        return mask.sqrt() if self.sqrt else mask


class IdealAmplitudeMask(MaskKind):
    """IAM (FFT-mask): ``|S_i| / |Y|`` truncated to ``[0, max]`` (default 1)."""

    name = "iam"

    def __init__(self, max: float = 1.0):
        if not max > 0:
            raise ValueError(f"iam max must be > 0, got {max}")
        self.max = float(max)

    @property
    def bounds(self):
        return (0.0, self.max)

    def oracle(self, sources, mixture):
        _check_sources(sources, mixture)
        return safe_ratio(sources.abs(), mixture.abs().unsqueeze(-3)).clamp(0.0, self.max)


class PhaseSensitiveMask(MaskKind):
    """PSM: ``|S_i| / |Y| cos(angle S_i - angle Y) = Re(S_i / Y)``, truncated to ``[min, max]``.

    Default ``[0, 1]``; ``min=-k, max=k`` gives the signed variant.
    """

    name = "psm"
    default_loss = "psa"

    def __init__(self, min: float = 0.0, max: float = 1.0):
        if not min < max:
            raise ValueError(f"psm needs min < max, got [{min}, {max}]")
        self.min, self.max = float(min), float(max)

    @property
    def bounds(self):
        return (self.min, self.max)

    def oracle(self, sources, mixture):
        _check_sources(sources, mixture)
        return safe_ratio(sources, mixture.unsqueeze(-3)).real.clamp(self.min, self.max)


class ComplexRatioMask(MaskKind):
    """cIRM: ``S_i / Y`` (complex), unbounded unless ``max`` is given.

    Unbounded, applied to ``Y`` it returns ``S_i`` exactly. Where sources
    nearly cancel, ``|S_i / Y|`` grows without limit (10^4 on real speech);
    ``max`` clips the magnitude to ``max`` and keeps the phase
    (:func:`clip_magnitude`): ``cirm`` with ``max=k`` is the target of the
    tanh-bounded complex head, ``|z| < k`` (``max=1`` without a ``max``;
    ``bssmask.heads``).
    """

    name = "cirm"
    is_complex = True
    head_type = "complex"
    default_loss = "cspec"

    def __init__(self, max: float | None = None):
        if max is not None and not max > 0:
            raise ValueError(f"cirm max must be > 0, got {max}")
        self.max = None if max is None else float(max)

    @property
    def bounds(self):
        return (None, self.max)

    def oracle(self, sources, mixture):
        _check_sources(sources, mixture)
        mask = safe_ratio(sources, mixture.unsqueeze(-3))
        return mask if self.max is None else clip_magnitude(mask, self.max)


#: Registered kinds: name -> (class, the constructor options the name fixes).
_REGISTRY: dict[str, tuple[type[MaskKind], dict]] = {}
#: Names of the registered mask kinds, in registration order (kept by :func:`register` and :func:`unregister`).
KINDS: tuple[str, ...] = ()


def register(cls: type[MaskKind], **fixed) -> type[MaskKind]:
    """Make ``cls`` a mask kind: ``get(name, **options)`` builds ``cls(**fixed, **options)``.

    The name is ``fixed["name"]`` if given (for a class shared by several
    kinds, such as :class:`RatioMask`), else ``cls.name``. Returns ``cls``,
    so it also serves as a class decorator.

    Example:
        >>> @register
        ... class HalfAmplitudeMask(IdealAmplitudeMask):
        ...     name = "iam_half"
        ...     default_loss = "msa"
        >>> get("iam_half", max=0.5).bounds, kind_class("iam_half").default_loss
        ((0.0, 0.5), 'msa')
        >>> unregister("iam_half")
    """
    if not (isinstance(cls, type) and issubclass(cls, MaskKind)):
        raise TypeError(f"a mask kind must be a MaskKind subclass, got {cls!r}")
    name = fixed.get("name", cls.name)
    if not name:
        raise ValueError(f"{cls.__name__} has no name: set its name attribute or pass name=...")
    if name in _REGISTRY:
        raise ValueError(f"mask kind {name!r} is already registered")
    _REGISTRY[name] = (cls, fixed)
    _update_kinds()
    return cls


def unregister(name: str) -> None:
    """Remove the mask kind ``name`` (added with :func:`register`)."""
    kind_class(name)
    del _REGISTRY[name]
    _update_kinds()


def _update_kinds() -> None:
    global KINDS
    KINDS = tuple(_REGISTRY)


def kind_class(name: str) -> type[MaskKind]:
    """Class of the registered kind ``name``: its ``head_type`` and ``default_loss`` without building it."""
    return _REGISTRY[choose("mask kind", name, _REGISTRY)][0]


register(IdealBinaryMask)
register(RatioMask, name="irm", power=1.0)
register(RatioMask, name="wiener", power=2.0)
register(IdealAmplitudeMask)
register(PhaseSensitiveMask)
register(ComplexRatioMask)


def parse_spec(spec: str) -> tuple[str, dict]:
    """Split a kind spec ``"kind[:key=value[:key=value ...]]"`` into its name and options.

    Values are read as int, float, ``true``/``false``/``none``, else kept as text.

    Example:
        >>> parse_spec("psm:min=-1:max=1")
        ('psm', {'min': -1, 'max': 1})
        >>> parse_spec("ibm:against=rest")
        ('ibm', {'against': 'rest'})
    """
    name, *items = spec.strip().split(":")
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not (sep and key.strip() and value.strip()):
            raise ValueError(f"mask {spec!r}: option {item!r} is not key=value (e.g. cirm:max=1)")
        options[key.strip()] = _parse_value(value.strip())
    return name.strip(), options


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def get(name: str | MaskKind, **options) -> MaskKind:
    """Mask kind by name or spec (``bssmask.masks.KINDS``), built with its options.

    Args:
        name: a name from :data:`KINDS`, a spec ``"kind:key=value"`` with the
            kind's options (:func:`parse_spec`, e.g. ``"cirm:max=1"``), or a
            :class:`MaskKind` (returned as is).
        **options: more of the kind's constructor options (e.g. ``max=2`` for ``iam``).

    Example:
        >>> get("cirm:max=1")
        ComplexRatioMask(max=1.0)
    """
    if isinstance(name, MaskKind):
        return name
    kind, spec_options = parse_spec(name) if ":" in name else (name, {})
    options = {**spec_options, **options}
    where = f"mask {name!r}: " if spec_options else ""
    try:
        cls, fixed = kind_class(kind), _REGISTRY[kind][1]
        return cls(**fixed, **options)
    except TypeError as err:
        raise ValueError(f"{where}bad options for mask kind {kind!r}: {err}") from None
    except ValueError as err:
        raise ValueError(f"{where}{err}") from None
