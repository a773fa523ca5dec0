"""Training losses for mask heads, in pairwise form for Asteroid's ``PITLossWrapper``.

Pairwise functions follow Asteroid's convention: ``f(est [B, n_src, ...],
target [B, n_src, ...]) -> [B, n_src, n_src]``, entry ``[b, i, j]`` the loss of
estimate ``i`` against target ``j``, so
``PITLossWrapper(f, pit_from="pw_mtx")`` finds the best permutation for any
number of sources. Spectra are Asteroid complex ``[B, n_src, 2F, T]``; means
run over every dim after the source dim. With ``M`` masks, ``S`` source and
``Y`` mixture STFTs and ``S_hat = M Y``:

==============  ===============================================  =====================
name            per-pair loss                                    compares
==============  ===============================================  =====================
``mask_bce``    ``-mean(t log z + (1 - t) log(1 - z))``          IBM probabilities
``mask_mse``    ``mean((z - t)^2)``                              head output, target
``mask_l1``     ``mean(|z - t|)``                                head output, target
``mask_cmse``   ``mean_{f,t} |z - t|^2`` (complex)               cIRM (also compressed)
``msa``         ``mean(( |S_hat| - |S| )^2)``                    magnitude spectra
``psa``         ``mean(( Re(S_hat e^{-j angle Y})                phase-sensitive
                - |S| cos(angle S - angle Y) )^2)``              spectra
``cspec``       ``mean_{f,t} |S_hat - S|^2``                     complex spectra
``sisdr``       ``-SI-SDR(s_hat, s)`` (Asteroid)                 waveforms
==============  ===============================================  =====================

Mask losses compare the head's training form ``z`` with its target ``t``
(:meth:`bssmask.heads.MaskHead.target`, the oracle of :mod:`bssmask.masks`
in the head's range and form, e.g. compressed for a compressed cIRM head).
For a real mask ``M >= 0``, PSA equals Erdogan et al.'s
``(M |Y| - |S| cos(angle S - angle Y))^2``.

Targets are computed against the mixture the model saw (``mix_tf``), so they
follow whatever mixing convention made it. With a mixture made as the mean
of N sources, masks that do not involve ``Y`` (``ibm``, ``irm``, ``wiener``)
give each source at 1/N of its level and signal losses other than ``sisdr``
cannot reach zero for them.

:func:`get` turns a name into a criterion for :class:`bssmask.models.MaskSeparator`
outputs (``model.forward_masks``); :func:`default_for` picks the one a mask
kind declares (``MaskKind.default_loss``, refined by its head).

Example:
    >>> import torch
    >>> from asteroid.losses import PITLossWrapper
    >>> est, tgt = torch.rand(3, 2, 129, 20), torch.rand(3, 2, 129, 20)
    >>> loss = PITLossWrapper(pairwise_mse, pit_from="pw_mtx")
    >>> torch.allclose(loss(est, tgt), loss(est, tgt.flip(1)))
    True
"""

from __future__ import annotations

import torch
from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr
from torch import nn

from . import heads, masks
from .choices import choose

__all__ = [
    "LOSSES",
    "Criterion",
    "pairwise_bce",
    "pairwise_mse",
    "pairwise_l1",
    "pairwise_complex_mse",
    "pairwise_msa",
    "pairwise_psa",
    "pairwise_neg_sisdr",
    "get",
    "default_for",
]


def _pairwise_mean(elementwise, est: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B, n, n]`` means of ``elementwise(est_i, target_j)`` over dims after the source dim."""
    if est.shape != target.shape or est.dim() < 3:
        raise ValueError(
            f"est and target must share a [B, n_src, ...] shape, got {tuple(est.shape)} and {tuple(target.shape)}"
        )
    values = elementwise(est.unsqueeze(2), target.unsqueeze(1))
    return values.flatten(3).mean(-1)


def pairwise_bce(est: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of probabilities ``est`` against targets in [0, 1].

    ``-mean(t log z + (1 - t) log(1 - z))``, with ``z`` clamped to
    ``[eps, 1 - eps]`` (dtype epsilon) so saturated probabilities give a
    finite loss and gradient.
    """
    eps = torch.finfo(est.dtype).eps
    clamped = est.clamp(eps, 1 - eps)

    def bce(z, t):
        return -(t * torch.log(z) + (1 - t) * torch.log1p(-z))

    return _pairwise_mean(bce, clamped, target)


def pairwise_mse(est: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((est - target)^2)``."""
    return _pairwise_mean(lambda a, b: (a - b).square(), est, target)


def pairwise_l1(est: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``mean(|est - target|)``."""
    return _pairwise_mean(lambda a, b: (a - b).abs(), est, target)


def pairwise_complex_mse(est: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Complex MSE ``mean_{f,t} |est - target|^2`` of Asteroid complex tensors ``[B, n, 2F, T]``.

    Equal to twice the mean of squared differences over the ``2F`` rows
    (real and imaginary errors add up per bin).
    """
    return 2 * pairwise_mse(est, target)


def pairwise_msa(est_tf: torch.Tensor, src_tf: torch.Tensor) -> torch.Tensor:
    """Magnitude spectrum approximation ``mean((|S_hat| - |S|)^2)`` on Asteroid spectra."""
    return pairwise_mse(masks.magnitude_tf(est_tf), masks.magnitude_tf(src_tf))


def pairwise_psa(est_tf: torch.Tensor, src_tf: torch.Tensor, mix_tf: torch.Tensor) -> torch.Tensor:
    """Phase-sensitive spectrum approximation on Asteroid spectra.

    Both estimate and source are projected on the mixture's phase,
    ``P(X) = Re(X conj(Y)) / |Y|`` (0 where ``Y = 0``), then
    ``mean((P(S_hat) - P(S))^2)``; ``P(S) = |S| cos(angle S - angle Y)``.

    Args:
        est_tf, src_tf: ``[B, n_src, 2F, T]``.
        mix_tf: ``[B, 2F, T]`` (pass as keyword through ``PITLossWrapper``).
    """
    mix = masks.from_asteroid(mix_tf).unsqueeze(1)
    mix_mag = mix.abs()

    def project(tf):
        return masks.safe_ratio((masks.from_asteroid(tf) * mix.conj()).real, mix_mag)

    return pairwise_mse(project(est_tf), project(src_tf))


#: Loss name -> (pairwise function, what it compares, the kinds it suits or None for all).
#: ``compares``: ``"mask"`` (head output vs target), ``"spec"``, ``"spec+mix"`` (also
#: gets ``mix_tf``) or ``"wav"``. The kinds it suits: a test of a ``MaskKind`` (or
#: its class): binary masks for ``mask_bce``, complex ones for ``mask_cmse``.
LOSSES: dict[str, tuple] = {
    "mask_bce": (pairwise_bce, "mask", lambda kind: kind.head_type == "binary"),
    "mask_mse": (pairwise_mse, "mask", None),
    "mask_l1": (pairwise_l1, "mask", None),
    "mask_cmse": (pairwise_complex_mse, "mask", lambda kind: kind.is_complex),
    "msa": (pairwise_msa, "spec", None),
    "psa": (pairwise_psa, "spec+mix", None),
    "cspec": (pairwise_complex_mse, "spec", None),
    "sisdr": (pairwise_neg_sisdr, "wav", None),
}


class Criterion(nn.Module):
    """A named loss on :meth:`MaskSeparator.forward_masks` outputs, with PIT.

    ``criterion(outputs, sources, model)``: ``outputs`` from
    ``model.forward_masks(mixture)``, ``sources`` ``[B, n_src, T]`` (the
    waveforms that were mixed), ``model`` the separator (its encoder turns
    sources into spectra, its head gives mask targets). Returns the batch
    mean of the best-permutation loss (or the fixed-order loss with
    ``pit=False``).

    Args:
        name: a key of :data:`LOSSES`.
        pit: permutation-invariant (default) or sources in fixed order.
    """

    def __init__(self, name: str, pit: bool = True):
        super().__init__()
        self.name, self.pit = choose("loss", name, LOSSES), pit
        self.pairwise, self.compares, _ = LOSSES[name]
        self.pit_loss = PITLossWrapper(self.pairwise, pit_from="pw_mtx")

    def forward(self, outputs: dict, sources: torch.Tensor, model: nn.Module) -> torch.Tensor:
        if self.compares == "wav":
            est, target, extra = outputs["est_wav"], sources, {}
        else:
            src_tf = model.encoder(sources)
            if self.compares == "mask":
                est, target, extra = outputs["mask"], model.head.target(src_tf, outputs["mix_tf"]), {}
            else:
                est, target = outputs["est_tf"], src_tf
                extra = {"mix_tf": outputs["mix_tf"]} if self.compares == "spec+mix" else {}
        if self.pit:
            return self.pit_loss(est, target, **extra)
        return self.pairwise(est, target, **extra).diagonal(dim1=1, dim2=2).mean()

    def extra_repr(self) -> str:
        return f"name={self.name!r}, pit={self.pit}"


def _kind_and_head(model_or_kind) -> tuple[masks.MaskKind, heads.MaskHead | None]:
    """Mask kind and head (if any) of a model, a head, a ``MaskKind`` or a kind name (or spec)."""
    head = getattr(model_or_kind, "head", model_or_kind)
    if isinstance(head, heads.MaskHead):
        return head.kind, head
    if isinstance(model_or_kind, masks.MaskKind):
        return model_or_kind, None
    if isinstance(model_or_kind, str):
        return masks.get(model_or_kind), None
    raise TypeError(
        f"expected a model with a head, a MaskHead, a MaskKind or a kind name, got {type(model_or_kind).__name__}"
    )


def get(name: str, model_or_mask_kind=None, **options) -> Criterion:
    """Criterion by name, checked against the mask kind it will train.

    Args:
        name: a key of :data:`LOSSES`.
        model_or_mask_kind: the model (or its head, or a kind name) the loss
            trains; mask losses that do not suit its kind are refused.
        **options: :class:`Criterion` options (``pit``).
    """
    choose("loss", name, LOSSES)
    if model_or_mask_kind is not None:
        kind, _ = _kind_and_head(model_or_mask_kind)
        suits = LOSSES[name][2]
        if suits is not None and not suits(kind):
            trains = ", ".join(k for k in masks.KINDS if suits(masks.kind_class(k)))
            raise ValueError(f"loss {name!r} trains {trains} masks, not {kind.name!r}")
    return Criterion(name, **options)


def default_for(model_or_mask_kind) -> str:
    """Default loss name for a model, head, kind or kind name.

    The kind's ``default_loss`` (:class:`bssmask.masks.MaskKind`), as its
    head may refine it (:attr:`bssmask.heads.MaskHead.default_loss`: e.g.
    ``mask_cmse`` for a compressed cIRM head, whose targets are bounded).

    Example:
        >>> default_for("ibm"), default_for("psm"), default_for(heads.get("cirm", 8, 4, 2, bound="compressed"))
        ('mask_bce', 'psa', 'mask_cmse')
    """
    kind, head = _kind_and_head(model_or_mask_kind)
    return (kind if head is None else head).default_loss
