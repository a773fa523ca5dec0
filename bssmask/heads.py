"""Learnable mask heads: masker features to a mask of one kind, in its range and Asteroid's format.

A head sits where an Asteroid masker applies its mask nonlinearity. It takes
per-source features ``[B, n_src, in_chan, T]`` (a masker's output before any
nonlinearity) and returns a mask in Asteroid's format: real kinds
``[B, n_src, F, T]``, complex kinds ``[B, n_src, 2F, T]`` (real parts, then
imaginary parts). When ``in_chan`` differs from the mask's rows (``F`` or
``2F``), a 1x1 convolution shared by the sources maps one to the other first;
otherwise the head holds no parameters.

A head works in two stages:

- :meth:`MaskHead.predict`: features to the *training form* ``z``, the output
  that mask-approximation losses compare with :meth:`MaskHead.target` (the
  oracle mask of :mod:`bssmask.masks` in that same form);
- :meth:`MaskHead.to_mask`: ``z`` to the mask applied to the mixture.

``forward(features) == to_mask(predict(features))``. Per kind, with ``x`` the
projected features and ``(lo, hi)`` the kind's ``bounds``:

- ``ibm``: ``z = sigmoid(x)`` (or softmax over sources); the applied mask is
  ``z`` in training mode and, in eval mode, ``1[z > threshold]`` or the
  one-hot argmax over sources.
- ``irm``, ``wiener``: ``z = sigmoid(x)``, or softmax over sources (the masks
  sum to one); applied as is.
- ``iam``, ``psm``: ``z = lo + (hi - lo) sigmoid(x)``; applied as is.
- ``cirm``, by ``bound``: ``"tanh"`` (BDT) ``z = max tanh(|x|) e^{j angle x}``,
  ``max`` the kind's (1 without one); ``"sigmoid"`` (BDSS) sigmoid on real
  and imaginary parts; ``"compressed"`` ``z = compress_cirm(x, K, C)``,
  applied as ``decompress_cirm(z, K, C)``; ``"none"`` ``z = x``. Only
  ``tanh`` bounds the magnitude: the others refuse a kind's ``max``.

A kind's head is the class its ``head_type`` names in :data:`HEAD_TYPES`
(:func:`head_class`; ``HEADS`` maps every registered kind to it). A head's
:attr:`MaskHead.default_loss` is its kind's, but ``mask_cmse`` for a
compressed cIRM head. :func:`get` builds a head with its options split
between the head and the kind (:func:`split_options`).

``tanh`` and ``sigmoid`` are the bounds of Asteroid's DCUNet
(``asteroid.complex_nn.bound_complex_mask``). The target is the oracle mask
brought into the head's range: magnitude clipped to ``max`` (1 without one)
for ``tanh``, parts clamped to ``[0, 1]`` for ``sigmoid``, compressed for
``compressed``. A head whose range cannot match its kind's ``bounds`` is
refused with one line (``docs/heads.md`` tabulates each pair).

Example:
    >>> import torch
    >>> from bssmask import heads
    >>> head = heads.get("cirm", in_chan=258, n_freq=129, n_src=2, bound="compressed")
    >>> head(torch.randn(4, 2, 258, 50)).shape        # [B, n_src, 2F, T]
    torch.Size([4, 2, 258, 50])
    >>> heads.get("irm", 258, 129, 2, activation="softmax")(torch.randn(4, 2, 258, 50)).sum(1).allclose(torch.ones(1))
    True
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from . import masks
from .choices import choose

__all__ = [
    "HEADS", "HEAD_TYPES", "BOUND_TYPES", "MaskHead", "RealMaskHead", "BinaryMaskHead", "ComplexMaskHead", "head_class",
    "split_options", "get",
]


class MaskHead(nn.Module):
    """Base head: optional projection, then the kind's bounding nonlinearity.

    Args:
        kind: the mask kind (a :class:`bssmask.masks.MaskKind`).
        in_chan: feature channels per source of the input.
        n_freq: ``F``, frequency bins of the mask.
        n_src: number of sources (checked on the input).

    Attributes:
        out_chan: rows of the mask: ``F`` (real kinds) or ``2F`` (complex).
    """

    #: Names of the constructor options a subclass adds (the rest go to the kind).
    options: tuple[str, ...] = ()

    def __init__(self, kind: masks.MaskKind, in_chan: int, n_freq: int, n_src: int):
        super().__init__()
        self.kind = kind
        self.in_chan, self.n_freq, self.n_src = in_chan, n_freq, n_src
        self.out_chan = 2 * n_freq if kind.is_complex else n_freq
        self.proj = nn.Identity() if in_chan == self.out_chan else nn.Conv1d(in_chan, self.out_chan, 1)

    def bound(self, x: torch.Tensor) -> torch.Tensor:
        """The bounding nonlinearity: projected features ``[B, n_src, out_chan, T]`` to ``z``."""
        raise NotImplementedError

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Training form ``z`` ``[B, n_src, out_chan, T]`` from features ``[B, n_src, in_chan, T]``."""
        if features.dim() != 4 or features.shape[1:3] != (self.n_src, self.in_chan):
            raise ValueError(
                f"{type(self).__name__} expects features [B, {self.n_src}, {self.in_chan}, T], "
                f"got {tuple(features.shape)}"
            )
        if not isinstance(self.proj, nn.Identity):
            batch, n_src, _, frames = features.shape
            features = self.proj(features.reshape(batch * n_src, self.in_chan, frames))
            features = features.reshape(batch, n_src, self.out_chan, frames)
        return self.bound(features)

    def to_mask(self, z: torch.Tensor) -> torch.Tensor:
        """The mask to apply, from the training form (identity unless a subclass says otherwise)."""
        return z

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Mask in Asteroid's format from features ``[B, n_src, in_chan, T]``."""
        return self.to_mask(self.predict(features))

    def target(self, sources_tf: torch.Tensor, mix_tf: torch.Tensor) -> torch.Tensor:
        """Oracle mask in the training form, from Asteroid spectra.

        Args:
            sources_tf: ``[B, n_src, 2F, T]``.
            mix_tf: ``[B, 2F, T]``.

        Returns:
            ``[B, n_src, out_chan, T]``, within the head's range.
        """
        return self.kind.oracle_tf(sources_tf, mix_tf)

    @property
    def default_loss(self) -> str:
        """Name of the loss that trains this head by default: its kind's ``default_loss``."""
        return self.kind.default_loss

    def extra_repr(self) -> str:
        opts = "".join(f", {name}={getattr(self, name)!r}" for name in self.options)
        return f"kind={self.kind!r}, in_chan={self.in_chan}, n_freq={self.n_freq}, n_src={self.n_src}{opts}"


class RealMaskHead(MaskHead):
    """Real mask in the kind's bounds ``(lo, hi)``: ``lo + (hi - lo) * act(x)``.

    Args:
        activation: ``"sigmoid"`` (each source on its own) or ``"softmax"``
            (across sources: with bounds ``(0, 1)`` the masks sum to one).
    """

    options = ("activation",)

    def __init__(self, kind, in_chan, n_freq, n_src, activation: str = "sigmoid"):
        if kind.is_complex:
            raise ValueError(f"{type(self).__name__} needs a real mask kind, got {kind.name!r}")
        if None in kind.bounds:
            raise ValueError(f"{type(self).__name__} needs a mask kind bounded on both sides, got {kind.name!r} "
                             f"with bounds {kind.bounds}")
        if activation not in ("sigmoid", "softmax"):
            raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}")
        super().__init__(kind, in_chan, n_freq, n_src)
        self.activation = activation
        self.low, self.high = kind.bounds

    def bound(self, x):
        unit = torch.sigmoid(x) if self.activation == "sigmoid" else torch.softmax(x, dim=1)
        if (self.low, self.high) == (0.0, 1.0):
            return unit
        return self.low + (self.high - self.low) * unit


class BinaryMaskHead(RealMaskHead):
    """IBM head: probabilities in training, hard 0/1 masks in eval mode.

    Args:
        activation: as :class:`RealMaskHead`.
        hard: ``"threshold"`` (``1[z > threshold]``, each source on its own)
            or ``"argmax"`` (one-hot of the most probable source per bin).
        threshold: for ``hard="threshold"``.
    """

    options = ("activation", "hard", "threshold")

    def __init__(
        self, kind, in_chan, n_freq, n_src, activation="sigmoid", hard: str = "threshold", threshold: float = 0.5
    ):
        if hard not in ("threshold", "argmax"):
            raise ValueError(f"hard must be 'threshold' or 'argmax', got {hard!r}")
        super().__init__(kind, in_chan, n_freq, n_src, activation=activation)
        self.hard, self.threshold = hard, float(threshold)

    def to_mask(self, z):
        if self.training:
            return z
        if self.hard == "threshold":
            return (z > self.threshold).to(z.dtype)
        return nn.functional.one_hot(z.argmax(1), z.shape[1]).movedim(-1, 1).to(z.dtype)


#: Canonical bounds of :class:`ComplexMaskHead` (``bound`` also takes the aliases ``bdt``, ``bdss`` and None).
BOUND_TYPES = ("tanh", "sigmoid", "compressed", "none")
_BOUND_ALIASES = {"tanh": "tanh", "bdt": "tanh", "sigmoid": "sigmoid", "bdss": "sigmoid",
                  "compressed": "compressed", "none": "none", None: "none"}

#: What each bound but ``tanh`` does instead of bounding the magnitude (why it refuses a kind's ``max``).
_NO_MAGNITUDE_BOUND = {"sigmoid": "it keeps each part in (0, 1)", "compressed": "it bounds each part by K={K:g}",
                       "none": "it is unbounded"}


class ComplexMaskHead(MaskHead):
    """cIRM head on Asteroid complex features ``[B, n_src, 2F, T]``.

    Args:
        bound: ``"tanh"`` (BDT, default), ``"sigmoid"`` (BDSS),
            ``"compressed"`` (Williamson et al.) or ``"none"``/``None``
            (unbounded). ``"bdt"`` and ``"bdss"`` are accepted as aliases.
            A kind with a ``max`` (``cirm:max=2``) takes ``"tanh"`` only: the
            others raise ``ValueError``.
        K, C: compression parameters (``bound="compressed"`` only).

    Attributes:
        max: with ``bound="tanh"``, the bound of ``|z|``: the kind's ``max``,
            else 1; ``None`` with the other bounds.

    Example:
        >>> head = get("cirm", 8, 4, 2, bound="tanh", max=2)
        >>> z = head.predict(torch.full((1, 2, 8, 1), 30.0))   # x = 30 + 30j: z = 2 tanh(|x|) e^{j pi/4}
        >>> head.max, masks.magnitude_tf(z).max().item()
        (2.0, 2.0)
        >>> get("cirm", 8, 4, 2, bound="sigmoid", max=2)
        Traceback (most recent call last):
        ValueError: cirm max=2 bounds the mask's magnitude, which bound='sigmoid' does not (...): use bound='tanh' ...
    """

    options = ("bound", "K", "C")

    def __init__(
        self, kind, in_chan, n_freq, n_src, bound: str | None = "tanh", K: float = 10.0, C: float = 0.1
    ):
        if not kind.is_complex:
            raise ValueError(f"ComplexMaskHead needs a complex mask kind, got {kind.name!r}")
        key = bound.lower() if isinstance(bound, str) else bound
        bound_type = choose("cirm bound", _BOUND_ALIASES.get(key, bound), BOUND_TYPES)
        super().__init__(kind, in_chan, n_freq, n_src)
        masks.check_compression(K, C, what=kind.name)
        #: Canonical bound name: one of :data:`BOUND_TYPES`.
        self.bound_type = bound_type
        self.K, self.C = float(K), float(C)
        limit = kind.bounds[1]
        if limit is not None and self.bound_type != "tanh":
            why = _NO_MAGNITUDE_BOUND[self.bound_type].format(K=self.K)
            raise ValueError(f"{kind.name} max={limit:g} bounds the mask's magnitude, which bound={self.bound_type!r} "
                             f"does not ({why}): use bound='tanh' (|z| < max) or drop max")
        self.max = (1.0 if limit is None else float(limit)) if self.bound_type == "tanh" else None

    def bound(self, x):
        if self.bound_type == "sigmoid":
            return torch.sigmoid(x)
        if self.bound_type == "compressed":
            return masks.compress_cirm(x, self.K, self.C)
        if self.bound_type == "none":
            return x
        # max tanh(|x|) / |x| rescales the magnitude and keeps the phase; it tends to max
        # at |x| = 0, where safe_ratio's fill takes over so no 0/0 reaches gradients.
        mag = masks.magnitude_tf(x)
        scale = masks.safe_ratio(self.max * torch.tanh(mag), mag, fill=self.max)
        return x * torch.cat([scale, scale], dim=-2)

    def to_mask(self, z):
        if self.bound_type == "compressed":
            return masks.decompress_cirm(z, self.K, self.C)
        return z

    def target(self, sources_tf, mix_tf):
        oracle = self.kind.oracle(masks.from_asteroid(sources_tf), masks.from_asteroid(mix_tf))
        if self.bound_type == "tanh" and self.kind.bounds[1] is None:  # a kind's max already clips its oracle
            oracle = masks.clip_magnitude(oracle, self.max)
        elif self.bound_type == "sigmoid":
            oracle = torch.complex(oracle.real.clamp(0, 1), oracle.imag.clamp(0, 1))
        elif self.bound_type == "compressed":
            oracle = masks.compress_cirm(oracle, self.K, self.C)
        return masks.to_asteroid(oracle)

    @property
    def default_loss(self) -> str:
        """``mask_cmse`` on compressed targets; otherwise the kind's (bounded or raw cIRM targets are heavy-tailed)."""
        return "mask_cmse" if self.bound_type == "compressed" else self.kind.default_loss

    def extra_repr(self) -> str:
        base = f"kind={self.kind!r}, in_chan={self.in_chan}, n_freq={self.n_freq}, n_src={self.n_src}"
        extra = f", K={self.K}, C={self.C}" if self.bound_type == "compressed" else ""
        return f"{base}, bound={self.bound_type!r}{extra}"


#: Head class of each ``head_type`` a mask kind can declare (``bssmask.masks.MaskKind``).
HEAD_TYPES: dict[str, type[MaskHead]] = {"real": RealMaskHead, "binary": BinaryMaskHead, "complex": ComplexMaskHead}


def head_class(kind: str | masks.MaskKind) -> type[MaskHead]:
    """Head class of a mask kind (a registered name or a ``MaskKind``): the one its ``head_type`` names.

    Example:
        >>> head_class("psm").__name__, head_class(masks.get("cirm")).__name__
        ('RealMaskHead', 'ComplexMaskHead')
    """
    head_type = (kind if isinstance(kind, masks.MaskKind) else masks.kind_class(kind)).head_type
    name = kind.name if isinstance(kind, masks.MaskKind) else kind
    return HEAD_TYPES[choose(f"head type (of mask kind {name!r})", head_type, HEAD_TYPES)]


class _HeadsByKind(Mapping):
    """The head class of each registered mask kind, read at each look-up (follows ``masks.register``)."""

    def __getitem__(self, kind: str) -> type:
        if kind not in masks.KINDS:
            raise KeyError(kind)
        return head_class(kind)

    def __iter__(self):
        return iter(masks.KINDS)

    def __len__(self) -> int:
        return len(masks.KINDS)


#: The head class of each registered mask kind (a live mapping: ``HEADS["irm"] is RealMaskHead``).
HEADS = _HeadsByKind()


def split_options(kind: str | masks.MaskKind, options: dict) -> tuple[dict, dict]:
    """The options of :func:`get` split into the head's (its class's ``options``) and the mask kind's.

    Example:
        >>> split_options("cirm", {"bound": "compressed", "max": 2.0})
        ({'bound': 'compressed'}, {'max': 2.0})
    """
    names = head_class(kind).options
    return ({key: value for key, value in options.items() if key in names},
            {key: value for key, value in options.items() if key not in names})


def get(kind: str | masks.MaskKind, in_chan: int, n_freq: int, n_src: int, **options) -> MaskHead:
    """Head for a mask kind, built with its options.

    Args:
        kind: a name from :data:`bssmask.masks.KINDS` or a ``MaskKind``.
        in_chan: feature channels per source of the input.
        n_freq: ``F``, frequency bins of the mask.
        n_src: number of sources.
        **options: the head's options (``activation``, ``hard``, ``threshold``
            for real kinds as they apply; ``bound``, ``K``, ``C`` for
            ``cirm``); the rest are the kind's options (e.g. ``max=2`` for
            ``iam``, ``against="rest"`` for ``ibm``).

    Example:
        >>> get("ibm", 129, 129, 2, hard="argmax", against="rest").kind
        IdealBinaryMask(against='rest')
    """
    name = kind.name if isinstance(kind, masks.MaskKind) else kind
    head_options, kind_options = split_options(kind, options)
    if isinstance(kind, masks.MaskKind) and kind_options:
        raise ValueError(f"options {sorted(kind_options)} are not options of the {name!r} head")
    mask_kind = masks.get(kind, **kind_options)
    try:
        return head_class(kind)(mask_kind, in_chan, n_freq, n_src, **head_options)
    except TypeError as err:
        raise ValueError(f"bad options for the {name!r} head: {err}") from None
