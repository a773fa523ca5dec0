"""Asteroid separators as they come, the baselines ("peers") the recipe's report sets next to the heads.

- ``convtasnet``: Asteroid's :class:`~asteroid.models.ConvTasNet` with its
  learned filterbank (options: ``n_filters``, ``kernel_size``, ``stride``,
  ``n_blocks``, ``n_repeats`` ... of ``ConvTasNet``);
- ``asteroid_mask``: the same STFT as :class:`~bssmask.models.MaskSeparator`
  (:func:`bssmask.stft.make_stft`) and one of its maskers
  (:data:`bssmask.models.MASKERS`) with Asteroid's own mask nonlinearity
  (the masker's default ``mask_act``) and Asteroid's masking, a real mask
  on each of the real and imaginary rows (options: ``masker``,
  ``masker_kwargs``, ``n_fft``, ``hop``): what a bssmask head
  adds over Asteroid's default mask.

:func:`build_peer` returns them as :class:`~bssmask.separator.AsteroidSeparator`,
without a bssmask head: the interface the recipe's training and scoring use
(``forward_masks`` with ``est_wav``, ``sample_rate``), so they train with
:class:`bssmask.engine.system.SeparationSystem` and the ``sisdr`` loss and
are scored like the heads, in float32 under any Trainer precision.

Example:
    >>> import torch
    >>> peer = build_peer("convtasnet", n_src=2, sample_rate=8000, n_filters=64, n_blocks=2, n_repeats=1)
    >>> peer(torch.randn(1, 8000)).shape
    torch.Size([1, 2, 8000])
"""

from __future__ import annotations

from asteroid.models import ConvTasNet
from asteroid.models.base_models import BaseEncoderMaskerDecoder
from torch import nn

from .models import MASKERS
from .choices import choose
from .separator import AsteroidSeparator
from .stft import make_stft

__all__ = ["PEERS", "build_peer"]


def _convtasnet(n_src: int, sample_rate: float, **options) -> nn.Module:
    return ConvTasNet(n_src=n_src, sample_rate=sample_rate, **options)


def _asteroid_mask(n_src: int, sample_rate: float, masker: str = "blstm", masker_kwargs: dict | None = None,
                   n_fft: int = 254, hop: int = 64) -> nn.Module:
    choose("masker", masker, MASKERS)
    cls, defaults = MASKERS[masker]
    encoder, decoder = make_stft(n_fft, hop, sample_rate)
    # Asteroid's STFT models mask the 2F real and imaginary rows, each with its own real mask.
    masker_net = cls(encoder.n_feats_out, n_src, **{**defaults, **(masker_kwargs or {})})
    return BaseEncoderMaskerDecoder(encoder, masker_net, decoder)


#: Peer builders by name: ``f(n_src, sample_rate, **options) -> Asteroid model``.
PEERS = {"convtasnet": _convtasnet, "asteroid_mask": _asteroid_mask}


def build_peer(name: str, n_src: int, sample_rate: float, **options) -> AsteroidSeparator:
    """The peer ``name`` of :data:`PEERS` with its ``options``.

    Raises:
        ValueError: an unknown peer, or options its constructor does not take.
    """
    choose("peer", name, PEERS)
    try:
        model = PEERS[name](n_src, sample_rate, **options)
    except TypeError as err:
        raise ValueError(f"bad options for peer {name!r}: {err}") from None
    return AsteroidSeparator(model)
