"""The separator interface, and Asteroid models on it with or without a bssmask head.

- :class:`Separator`: what training, fine-tuning, scoring and ``bssmask
  separate`` use of a model. :class:`~bssmask.models.MaskSeparator` and
  :class:`AsteroidSeparator` implement it.
- :class:`AsteroidSeparator`: any Asteroid model ``[B, T] -> [B, n_src, T]``,
  run in float32 under any autocast (Asteroid's overlap-add breaks in
  bfloat16); the report's peers (:mod:`bssmask.peers`) and loaded Asteroid
  files are these.
- :func:`attach_head`: put a bssmask head on an Asteroid model (``DCUNet``,
  ``DCCRNet``, or a TasNet-style model built on an STFT filterbank), keeping
  its weights: its masker becomes a :class:`HeadMasker`, and the model comes
  back wrapped in an :class:`AsteroidSeparator` whose ``serialize()`` also
  records the head under :data:`HEAD_KEY`.

Saving and reloading, whatever the model, is :mod:`bssmask.model_files` (``save_model``, ``load_model``).

Example:
    >>> from asteroid.models import DCUNet
    >>> model = attach_head(DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad"), "irm")
    >>> model(torch.randn(1, 8000)).shape, model.serialize()["bssmask_head"]
    (torch.Size([1, 2, 8000]), {'mask': 'irm', 'options': {}})
    >>> sorted(model.trainable_parts()), model.criterion().name
    (['encoder', 'masker'], 'sisdr')
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import torch
from asteroid import complex_nn
from asteroid.models import DCCRNet
from asteroid.models.base_models import BaseEncoderMaskerDecoder, BaseModel, _unsqueeze_to_3d
from asteroid.models.dcunet import BaseDCUNet
from asteroid.utils.torch_utils import pad_x_to_y
from asteroid_filterbanks import STFTFB
from torch import nn

from . import heads, losses, masks
from .models import MaskSeparator

__all__ = ["HEAD_KEY", "Separator", "AsteroidSeparator", "HeadMasker", "attach_head"]

#: Key of a ``serialize()`` package that holds an attached head's kind and options
#: (``{"mask": ..., "options": {...}}``), for :func:`bssmask.model_files.load_model`.
HEAD_KEY = "bssmask_head"


@runtime_checkable
class Separator(Protocol):
    """What training, fine-tuning, scoring and ``bssmask separate`` use of a separator (an ``nn.Module``).

    Attributes:
        sample_rate: the model's sample rate (Hz).
        n_src: number of sources; None for an Asteroid model that does not say.
        head: the bssmask head (:class:`bssmask.heads.MaskHead`); None for a
            model with its own mask nonlinearity.
        encoder: the Asteroid encoder; ``encoder.filterbank.kernel_size`` is
            the shortest input the model takes.
    """

    sample_rate: float
    n_src: int | None
    head: heads.MaskHead | None
    encoder: nn.Module

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Estimates ``[B, n_src, T]`` of mixtures ``[B, T]``."""

    def forward_masks(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs the losses read: at least ``est_wav`` ``[B, n_src, T]`` (a ``MaskSeparator`` adds
        ``mix_tf``, ``mask``, ``est_tf``)."""

    def trainable_parts(self) -> dict[str, nn.Module]:
        """``{"encoder": ..., "masker": ...}``, the masker without the bssmask head: what fine-tuning may freeze."""

    def criterion(self, name: str = "default", **options) -> losses.Criterion:
        """The loss ``name`` of :mod:`bssmask.losses` that trains this model (``"default"``: its own choice).

        Raises:
            ValueError: a loss that cannot train it.
        """

    def with_head(self, mask: str, **options) -> Separator:
        """A copy with a new head of kind ``mask``, the encoder and masker weights kept."""

    def serialize(self) -> dict:
        """Asteroid's package (``model_name``, ``model_args``, ``state_dict``...), for :func:`bssmask.model_files.load_model`."""


class HeadMasker(nn.Module):
    """An Asteroid masker stripped of its mask nonlinearity, followed by a bssmask head.

    Takes the place of the Asteroid model's ``masker`` in :func:`attach_head`.

    Args:
        masker: the original masker (its nonlinearity already removed).
        head: the bssmask head.
        spec: the head's kind and options as given to :func:`attach_head`,
            ``{"mask": kind, "options": {...}}``: what the model's ``serialize()``
            records under :data:`HEAD_KEY`.
        pre: applied to the masker's input (the model's encoder activation,
            moved here so that masks apply to the raw STFT).
        torch_complex: whether the model works on torch complex spectra
            (DCUNet family): complex masks are returned as torch complex.
    """

    def __init__(self, masker: nn.Module, head: heads.MaskHead, spec: dict, pre: nn.Module | None = None,
                 torch_complex: bool = False):
        super().__init__()
        self.masker, self.head, self.spec = masker, head, spec
        self.pre = pre if pre is not None else nn.Identity()
        self.torch_complex = torch_complex

    def get_config(self) -> dict:
        """The wrapped masker's arguments (Asteroid's ``serialize()`` records them as the model's)."""
        return self.masker.get_config()

    def forward(self, tf_rep: torch.Tensor) -> torch.Tensor:
        """Mask from the model's spectrum; Asteroid format, or torch complex when ``torch_complex``."""
        features = self.masker(self.pre(tf_rep))
        mask = self.head(masks.to_asteroid(features))
        return masks.from_asteroid(mask) if self.torch_complex and self.head.kind.is_complex else mask


class AsteroidSeparator(nn.Module):
    """An Asteroid model on the :class:`Separator` interface, with a bssmask head after :func:`attach_head`.

    Separates in float32 under any autocast. Without a head it is the
    Asteroid model's own ``forward``; with one, Asteroid's steps with the
    head's masking: encoder -> masker (the :class:`HeadMasker`) -> masks
    applied by :func:`bssmask.masks.apply_tf` to the raw STFT (DCUNet and
    DCCRNet: the model's own complex masking) -> decoder.

    Args:
        model: the Asteroid model, kept as :attr:`model`: its ``serialize()``
            and ``state_dict()`` are the wrapper's package and weights.

    Example:
        >>> from asteroid.models import ConvTasNet
        >>> separator = AsteroidSeparator(ConvTasNet(n_src=2, n_filters=64, n_blocks=2, n_repeats=1))
        >>> separator.forward_masks(torch.randn(1, 8000))["est_wav"].shape, separator.head, separator.n_src
        (torch.Size([1, 2, 8000]), None, 2)
    """

    def __init__(self, model: BaseModel):
        super().__init__()
        self.model = model

    @property
    def _head_masker(self) -> HeadMasker | None:
        masker = getattr(self.model, "masker", None)
        return masker if isinstance(masker, HeadMasker) else None

    @property
    def head(self) -> heads.MaskHead | None:
        """The bssmask head, or None (the model's own mask nonlinearity)."""
        return self._head_masker.head if self._head_masker is not None else None

    @property
    def sample_rate(self) -> float:
        """The Asteroid model's sample rate (Hz)."""
        return self.model.sample_rate

    @property
    def n_src(self) -> int | None:
        """Number of sources: the head's, the DCUNet family's ``n_src`` argument or the masker's; None if unknown."""
        if self.head is not None:
            return self.head.n_src
        if isinstance(self.model, BaseDCUNet):
            return self.model.masknet_kwargs.get("n_src", 1)
        return getattr(getattr(self.model, "masker", None), "n_src", None)

    @property
    def encoder(self) -> nn.Module:
        """The Asteroid model's encoder."""
        return self.model.encoder

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Estimates ``[B, n_src, T]`` of mixtures ``[B, T]`` (or ``[B, 1, T]``; ``[T]`` gives ``[n_src, T]``), in float32."""
        with torch.autocast(wav.device.type, enabled=False):
            wav = wav.float()
            head_masker = self._head_masker
            if head_masker is None or head_masker.torch_complex:
                return self.model(wav)
            mix = _unsqueeze_to_3d(wav)
            tf_rep = self.model.forward_encoder(mix)
            masked = masks.apply_tf(self.model.forward_masker(tf_rep), tf_rep)
            estimates = pad_x_to_y(self.model.forward_decoder(masked), mix)
            return estimates.squeeze(0) if wav.dim() == 1 else estimates

    def forward_masks(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"est_wav": [B, n_src, T]}``: what the ``sisdr`` loss of :mod:`bssmask.losses` reads."""
        return {"est_wav": self(wav)}

    def trainable_parts(self) -> dict[str, nn.Module]:
        """The encoder and the masker proper (without the bssmask head)."""
        masker = self._head_masker.masker if self._head_masker is not None else self.model.masker
        return {"encoder": self.model.encoder, "masker": masker}

    def criterion(self, name: str = "default", **options) -> losses.Criterion:
        """The time-domain ``sisdr`` loss (``"default"``), the one loss :meth:`forward_masks` feeds.

        Raises:
            ValueError: any other loss.
        """
        name = "sisdr" if name == "default" else name
        if name != "sisdr":
            raise ValueError(f"loss: {type(self.model).__name__} fine-tunes with the time-domain loss 'sisdr', "
                             f"not {name!r}")
        return losses.get(name, **options)

    def with_head(self, mask: str, **options) -> AsteroidSeparator:
        """A copy with a head of kind ``mask`` (:func:`attach_head`); the original is left as it is."""
        return attach_head(copy.deepcopy(self), mask, **options)

    def serialize(self) -> dict:
        """The Asteroid model's ``serialize()``, plus the head's kind and options under :data:`HEAD_KEY`."""
        package = self.model.serialize()
        if self._head_masker is not None:
            spec = self._head_masker.spec
            package[HEAD_KEY] = {"mask": spec["mask"], "options": dict(spec["options"])}
        return package


def _strip_nonlinearity(masker: nn.Module) -> None:
    """Replace a masker's mask nonlinearity (``output_act`` or DCUNet's bound) by the identity, in place."""
    targets = {id(m) for m in masker.modules() if isinstance(m, complex_nn.BoundComplexMask)}
    if isinstance(getattr(masker, "output_act", None), nn.Module):
        targets.add(id(masker.output_act))
    if not targets:
        raise TypeError(f"cannot find the mask nonlinearity of {type(masker).__name__}")
    for parent in list(masker.modules()):
        for name, child in parent.named_children():
            if id(child) in targets:
                setattr(parent, name, nn.Identity())


def _head_masker(model: BaseEncoderMaskerDecoder, mask: str, spec: dict, options: dict) -> HeadMasker:
    """The :class:`HeadMasker` that takes the place of ``model.masker``; moves the encoder activation into it."""
    if isinstance(model, BaseDCUNet):
        n_src = model.masknet_kwargs.get("n_src", 1)
        # DCCRNet drops the Nyquist bin before its masker.
        n_freq = model.stft_n_filters // 2 + (0 if isinstance(model, DCCRNet) else 1)
        head = heads.get(mask, 2 * n_freq, n_freq, n_src, **options)
        _strip_nonlinearity(model.masker)
        return HeadMasker(model.masker, head, spec, torch_complex=True)
    filterbank = getattr(getattr(model, "encoder", None), "filterbank", None)
    if not isinstance(model, BaseEncoderMaskerDecoder) or not isinstance(filterbank, STFTFB):
        raise TypeError(
            f"attach_head needs DCUNet/DCCRNet or an encoder-masker-decoder model with an STFT "
            f"filterbank (fb_name='stft'), got {type(model).__name__} with {type(filterbank).__name__}"
        )
    n_freq = filterbank.n_feats_out // 2
    in_chan = getattr(model.masker, "out_chan", filterbank.n_feats_out)
    head = heads.get(mask, in_chan, n_freq, model.masker.n_src, **options)
    _strip_nonlinearity(model.masker)
    masker = HeadMasker(model.masker, head, spec, pre=model.enc_activation)
    model.enc_activation = nn.Identity()
    return masker


def attach_head(model: BaseEncoderMaskerDecoder | AsteroidSeparator, mask: str, **options) -> AsteroidSeparator:
    """Put a bssmask head on an Asteroid encoder-masker-decoder model.

    The masker keeps its (pretrained) weights and loses its own mask
    nonlinearity; the head turns its raw output into a ``mask`` of the given
    kind. On a model that already has a bssmask head, the head is replaced
    (the masker, without nonlinearity, stays). Supported models:

    - ``DCUNet`` / ``DCCRNet`` (``BaseDCUNet``): the masker's complex output
      ``[B, n_src, F, T]`` becomes Asteroid features ``[B, n_src, 2F, T]``.
      With ``mask="cirm", bound="tanh"`` (or ``"sigmoid"``) the model
      computes what it computed before.
    - models with an STFT filterbank encoder (``ConvTasNet``,
      ``DPRNNTasNet``... built with ``fb_name="stft"``): the masker's output
      ``[B, n_src, 2F, T]`` is the head's input, masks are applied as
      real or complex masks (:func:`bssmask.masks.apply_tf`) to the raw STFT,
      and the encoder activation, if any, moves to the masker's input.

    Real kinds on a ``2F``-channel masker output get a fresh 1x1 projection
    to ``F`` rows (see :mod:`bssmask.heads`); train it before use.

    Args:
        model: the Asteroid model (its ``masker`` is replaced in place by a
            :class:`HeadMasker`), or an :class:`AsteroidSeparator` (its head
            is replaced in place).
        mask: mask kind, one of :data:`bssmask.masks.KINDS`.
        **options: head and kind options (:func:`bssmask.heads.get`).

    Returns:
        The :class:`AsteroidSeparator` of the model, ``head`` the new head.

    Raises:
        TypeError: for models that do not mask an STFT.

    Its ``serialize()`` also saves the head's kind and options, and
    :func:`bssmask.model_files.load_model` (or ``bssmask separate``, ``finetune.sh --pretrained``)
    rebuilds the model with the same head and weights.

    Example:
        >>> from asteroid.models import DCUNet
        >>> model = attach_head(DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad"), "irm")
        >>> attach_head(model, "cirm", bound="tanh").head.kind.name   # another kind, same masker
        'cirm'
    """
    if isinstance(model, MaskSeparator):
        raise TypeError("MaskSeparator already has a bssmask head: build it with mask=... or use with_head")
    separator = model if isinstance(model, AsteroidSeparator) else AsteroidSeparator(model)
    spec = {"mask": mask, "options": dict(options)}
    masker = separator._head_masker
    if masker is not None:
        old = masker.head
        masker.head = heads.get(mask, old.in_chan, old.n_freq, old.n_src, **options)
        masker.spec = spec
    else:
        separator.model.masker = _head_masker(separator.model, mask, spec, options)
    return separator
