"""Asteroid separators that predict a bssmask mask kind.

- :class:`MaskSeparator`: an Asteroid ``BaseEncoderMaskerDecoder`` built from
  an STFT (:func:`bssmask.stft.make_stft`), any Asteroid masker by name
  (:data:`MASKERS`), a bssmask head (:mod:`bssmask.heads`) and optional
  frequency downsampling with mask upsampling (:mod:`bssmask.resample`).
- :func:`attach_head`: put a bssmask head on an existing Asteroid model
  (``DCUNet``, ``DCCRNet``, or a TasNet-style model built on an STFT
  filterbank), keeping its weights; its ``serialize()`` then records the
  head under :data:`HEAD_KEY`.

Saving and reloading, whatever the model, is :mod:`bssmask.io` (``save_model``, ``load_model``).

Data flow of :class:`MaskSeparator` (``F = n_fft // 2 + 1``, ``F' = F / factor``)::

    wav [B, T] -> encoder -> mix_tf [B, 2F, T']
      -> downsample frequency by `factor` (down_method, space) -> [B, 2F', T']
      -> masker (Asteroid, mask_act="linear") -> features [B, n_src, C, T']
      -> head.predict -> z [B, n_src, F' or 2F', T']       (training form)
      -> upsample frequency to F (method, space) -> z [B, n_src, F or 2F, T']
      -> head.to_mask -> mask -> masks.apply_tf(mask, mix_tf) -> est_tf [B, n_src, 2F, T']
      -> decoder -> est_wav [B, n_src, T]

Example:
    >>> import torch
    >>> model = MaskSeparator(n_src=2, mask="cirm", masker="dprnn", sample_rate=8000)
    >>> model(torch.randn(1, 8000)).shape
    torch.Size([1, 2, 8000])
"""

from __future__ import annotations

import functools
import inspect

import torch
from asteroid import complex_nn, masknn
from asteroid.models import DCCRNet
from asteroid.models.base_models import BaseEncoderMaskerDecoder, _unsqueeze_to_3d
from asteroid.models.dcunet import BaseDCUNet
from asteroid.utils.torch_utils import pad_x_to_y
from asteroid_filterbanks import STFTFB
from torch import nn

from . import compat, heads, masks, resample
from .names import choose
from .stft import make_stft

compat.int_dccrn_rnn_size()

__all__ = ["HEAD_KEY", "MASKERS", "MaskSeparator", "HeadMasker", "attach_head"]

#: Key of a ``serialize()`` package that holds an attached head's kind and options
#: (``{"mask": ..., "options": {...}}``), for :func:`bssmask.io.load_model`.
HEAD_KEY = "bssmask_head"

#: Asteroid maskers by name, with the small defaults :class:`MaskSeparator` uses
#: (``masker_kwargs`` override them; the others keep Asteroid's defaults).
MASKERS: dict[str, tuple[type[nn.Module], dict]] = {
    "dprnn": (masknn.DPRNN, {"bn_chan": 64, "hid_size": 64, "chunk_size": 32, "n_repeats": 2}),
    "tdconvnet": (masknn.TDConvNet, {"n_blocks": 5, "n_repeats": 2, "bn_chan": 64, "hid_chan": 128, "skip_chan": 64}),
    "blstm": (masknn.LSTMMasker, {"n_layers": 2, "hid_size": 128, "dropout": 0.0, "bidirectional": True}),
    "lstm": (masknn.LSTMMasker, {"n_layers": 2, "hid_size": 128, "dropout": 0.0, "bidirectional": False}),
    "dptransformer": (masknn.DPTransformer, {"ff_hid": 128, "chunk_size": 32, "n_repeats": 2}),
}


def _build_masker(name: str, in_chan: int, n_src: int, out_chan: int, kwargs: dict) -> tuple[nn.Module, dict, int]:
    """An Asteroid masker without mask nonlinearity, its effective kwargs and its output channels.

    Maskers that take ``out_chan`` output ``out_chan`` channels per source,
    the others ``in_chan``.
    """
    choose("masker", name, MASKERS)
    if "mask_act" in kwargs:
        raise ValueError("masker_kwargs may not set mask_act: the bssmask head is the mask nonlinearity")
    cls, defaults = MASKERS[name]
    kwargs = {**defaults, **kwargs}
    if "out_chan" in kwargs:
        raise ValueError("masker_kwargs may not set out_chan: the head's mask kind fixes it")
    takes_out_chan = "out_chan" in inspect.signature(cls).parameters
    extra = {"out_chan": out_chan} if takes_out_chan else {}
    try:
        masker = cls(in_chan, n_src, mask_act="linear", **kwargs, **extra)
    except TypeError as err:
        raise ValueError(f"bad masker_kwargs for {name!r}: {err}") from None
    return masker, kwargs, out_chan if takes_out_chan else in_chan


class MaskSeparator(BaseEncoderMaskerDecoder):
    """STFT encoder, Asteroid masker, bssmask head, STFT decoder.

    Args:
        n_src: number of sources.
        mask: mask kind, one of :data:`bssmask.masks.KINDS`.
        masker: Asteroid masker name, one of :data:`MASKERS`.
        sample_rate: sample rate of the model (Hz).
        n_fft: FFT size; ``F = n_fft // 2 + 1`` (the default 254 gives
            ``F = 128``, divisible by factors 2, 4, 8...).
        hop: STFT hop size in samples.
        window: STFT window, ``"sqrt-hann"`` (Asteroid's default) or ``"hann"``
            (:data:`bssmask.stft.WINDOWS`).
        mask_options: options of the head and of the mask kind
            (:func:`bssmask.heads.get`), e.g. ``{"bound": "compressed"}``.
        masker_kwargs: masker constructor options, over the masker's defaults (``MASKERS``, then Asteroid's).
        factor: frequency downsampling factor of the masker's input and the
            head's output (1: full resolution). Must divide ``F``.
        method: mask upsampling method, one of :data:`bssmask.resample.UP_METHODS`.
        space: complex interpolation space, one of :data:`bssmask.resample.SPACES`.
        down_method: input downsampling method, one of :data:`bssmask.resample.DOWN_METHODS`.
        masker_out: feature rows per source the masker outputs (default: the
            head's mask rows, ``F'`` or ``2F'``); set by :meth:`with_head` so
            that a model whose head was swapped keeps its masker and reloads.

    The masker sees the downsampled mixture STFT in Asteroid's format
    (real then imaginary parts, ``2F'`` channels) and outputs per-source
    features; maskers that take ``out_chan`` output exactly the head's rows,
    so the head holds no projection. A recipe config's ``model`` section holds
    these arguments, meanings as above (:data:`bssmask.config.MODEL_KEYS`).
    """

    def __init__(
        self,
        n_src: int = 2,
        mask: str = "cirm",
        masker: str = "dprnn",
        sample_rate: float = 8000.0,
        n_fft: int = 254,
        hop: int = 64,
        mask_options: dict | None = None,
        masker_kwargs: dict | None = None,
        factor: int = 1,
        method: str = "nearest",
        space: str = "cartesian",
        down_method: str = "keep",
        masker_out: int | None = None,
        window: str = "sqrt-hann",
    ):
        encoder, decoder = make_stft(n_fft, hop, sample_rate, window)
        n_freq = n_fft // 2 + 1
        resample.check_factor(n_freq, factor)
        choose("method", method, resample.UP_METHODS)
        choose("space", space, resample.SPACES)
        choose("down_method", down_method, resample.DOWN_METHODS)
        low = n_freq // factor
        rows = masker_out or (2 * low if masks.get(mask).is_complex else low)
        masker_net, masker_kwargs, in_chan = _build_masker(
            masker, 2 * low, n_src, rows, dict(masker_kwargs or {})
        )
        super().__init__(encoder, masker_net, decoder)
        self.mask_options = dict(mask_options or {})
        self.head = heads.get(mask, in_chan, low, n_src, **self.mask_options)
        self.n_src, self.mask, self.masker_name = n_src, mask, masker
        self.n_fft, self.hop, self.n_freq, self.window = n_fft, hop, n_freq, window
        self.masker_kwargs = masker_kwargs
        self.factor, self.method, self.space, self.down_method = factor, method, space, down_method
        self.masker_out = masker_out

    def predict_mask(self, mix_tf: torch.Tensor) -> torch.Tensor:
        """Head output in its training form at full resolution.

        Args:
            mix_tf: Asteroid mixture STFT ``[B, 2F, T']``.

        Returns:
            ``[B, n_src, F, T']`` (real kinds) or ``[B, n_src, 2F, T']`` (complex).
        """
        features = mix_tf
        if self.factor > 1:
            low = resample.downsample(masks.from_asteroid(mix_tf), self.factor, self.down_method, self.space)
            features = masks.to_asteroid(low)
        z = self.head.predict(self.masker(features)).float()
        if self.factor == 1:
            return z
        if self.head.kind.is_complex:
            full = resample.upsample(masks.from_asteroid(z), self.n_freq, self.method, self.space)
            return masks.to_asteroid(full)
        return resample.upsample(z, self.n_freq, self.method, self.space)

    def forward_masker(self, tf_rep: torch.Tensor) -> torch.Tensor:
        """Mask to apply, Asteroid format (Asteroid's hook, used by ``forward``)."""
        return self.head.to_mask(self.predict_mask(tf_rep))

    def apply_masks(self, tf_rep: torch.Tensor, est_masks: torch.Tensor) -> torch.Tensor:
        """``masks.apply_tf``: real or complex masks on the mixture STFT, ``[B, n_src, 2F, T']``."""
        return masks.apply_tf(est_masks, tf_rep)

    def forward_masks(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward pass keeping what losses need.

        Args:
            wav: mixture ``[B, T]`` or ``[B, 1, T]``.

        Returns:
            dict with ``mix_tf`` ``[B, 2F, T']``, ``mask`` (the head's training
            form at full resolution, ``[B, n_src, F or 2F, T']``), ``est_tf``
            ``[B, n_src, 2F, T']`` and ``est_wav`` ``[B, n_src, T]``, all float32.

        Under mixed precision (``torch.autocast``, Lightning's ``bf16-mixed``)
        only the masker and head run in low precision: the STFT, the masking
        and the inverse STFT stay in float32.
        """
        wav = _unsqueeze_to_3d(wav)
        with torch.autocast(wav.device.type, enabled=False):
            mix_tf = self.forward_encoder(wav.float())
        mask = self.predict_mask(mix_tf)
        with torch.autocast(wav.device.type, enabled=False):
            est_tf = self.apply_masks(mix_tf, self.head.to_mask(mask))
            est_wav = pad_x_to_y(self.forward_decoder(est_tf), wav)
        return {"mix_tf": mix_tf, "mask": mask, "est_tf": est_tf, "est_wav": est_wav}

    def get_model_args(self) -> dict:
        """Constructor arguments (with the masker's effective kwargs) for ``from_pretrained``."""
        return {
            "n_src": self.n_src, "mask": self.mask, "masker": self.masker_name, "sample_rate": self.sample_rate,
            "n_fft": self.n_fft, "hop": self.hop, "window": self.window, "mask_options": dict(self.mask_options),
            "masker_kwargs": dict(self.masker_kwargs), "factor": self.factor, "method": self.method,
            "space": self.space, "down_method": self.down_method, "masker_out": self.masker_out,
        }

    def with_head(self, mask: str, **mask_options) -> "MaskSeparator":
        """A copy of this model with a new head of kind ``mask``; encoder, masker and decoder weights kept.

        The masker keeps its output rows; when the new kind needs other rows
        (a real kind after a complex one, or the reverse) the new head starts
        with a fresh 1x1 projection (:mod:`bssmask.heads`). The copy
        serializes and reloads like any ``MaskSeparator``.

        Example:
            >>> model = MaskSeparator(mask="irm", masker="blstm")
            >>> swapped = model.with_head("cirm", bound="tanh")
            >>> all(torch.equal(a, b) for a, b in zip(swapped.masker.parameters(), model.masker.parameters()))
            True
        """
        args = {**self.get_model_args(), "mask": mask, "mask_options": mask_options, "masker_out": self.head.in_chan}
        new = type(self)(**args)
        for part in ("encoder", "masker", "decoder"):
            getattr(new, part).load_state_dict(getattr(self, part).state_dict())
        return new

    @classmethod
    def from_pretrained(cls, pretrained_model_conf_or_path, **kwargs) -> "MaskSeparator":
        """A ``MaskSeparator`` from ``serialize()`` output, through :func:`bssmask.io.load_model`.

        Args:
            pretrained_model_conf_or_path: a ``serialize()`` dict, a file, the
                name of a bundled model (``"default"``), a hub id or URL.
            **kwargs: override the stored model arguments, as in Asteroid.

        Raises:
            CheckpointError: not a file of a ``MaskSeparator`` (another model's
                file names :func:`bssmask.io.load_model`, which loads any).

        Example:
            >>> model = MaskSeparator.from_pretrained(MaskSeparator(mask="irm", masker="blstm").serialize())
            >>> model.mask, model.masker_name
            ('irm', 'blstm')
        """
        from .io import load_model  # the loader of every model file builds MaskSeparators: imported when used

        return load_model(pretrained_model_conf_or_path, model_class=cls, **kwargs)


class HeadMasker(nn.Module):
    """An Asteroid masker stripped of its mask nonlinearity, followed by a bssmask head.

    Takes the place of ``model.masker`` in :func:`attach_head`.

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


def _apply_asteroid_mask(tf_rep: torch.Tensor, est_masks: torch.Tensor) -> torch.Tensor:
    """``apply_masks`` of a model with a head: :func:`bssmask.masks.apply_tf` (argument order of Asteroid)."""
    return masks.apply_tf(est_masks, tf_rep)


def _serialize_with_head(model: BaseEncoderMaskerDecoder) -> dict:
    """Asteroid's ``serialize()`` plus the head's :attr:`HeadMasker.spec` under :data:`HEAD_KEY`."""
    package = type(model).serialize(model)
    spec = model.masker.spec
    package[HEAD_KEY] = {"mask": spec["mask"], "options": dict(spec["options"])}
    return package


def attach_head(model: BaseEncoderMaskerDecoder, mask: str, **options) -> BaseEncoderMaskerDecoder:
    """Put a bssmask head on an Asteroid encoder-masker-decoder model, in place.

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
        model: the Asteroid model; modified in place.
        mask: mask kind, one of :data:`bssmask.masks.KINDS`.
        **options: head and kind options (:func:`bssmask.heads.get`).

    Returns:
        The same model object, now with ``model.masker.head``.

    Raises:
        TypeError: for models that do not mask an STFT.

    ``model.serialize()`` then also saves the head's kind and options, and
    :func:`bssmask.io.load_model` (or ``bssmask separate``, ``finetune.sh --pretrained``)
    rebuilds the model with the same head and weights.

    Example:
        >>> from asteroid.models import DCUNet
        >>> model = attach_head(DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad"), "irm")
        >>> model(torch.randn(1, 8000)).shape, model.serialize()["bssmask_head"]
        (torch.Size([1, 2, 8000]), {'mask': 'irm', 'options': {}})
        >>> attach_head(model, "cirm", bound="tanh").masker.head.kind.name   # another kind, same masker
        'cirm'
    """
    if isinstance(model, MaskSeparator):
        raise TypeError("MaskSeparator already has a bssmask head: build it with mask=... or use with_head")
    spec = {"mask": mask, "options": dict(options)}
    if isinstance(getattr(model, "masker", None), HeadMasker):
        old = model.masker.head
        model.masker.head = heads.get(mask, old.in_chan, old.n_freq, old.n_src, **options)
        model.masker.spec = spec
        return model
    if isinstance(model, BaseDCUNet):
        n_src = model.masknet_kwargs.get("n_src", 1)
        # DCCRNet drops the Nyquist bin before its masker.
        n_freq = model.stft_n_filters // 2 + (0 if isinstance(model, DCCRNet) else 1)
        head = heads.get(mask, 2 * n_freq, n_freq, n_src, **options)
        _strip_nonlinearity(model.masker)
        model.masker = HeadMasker(model.masker, head, spec, torch_complex=True)
    else:
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
        model.masker = HeadMasker(model.masker, head, spec, pre=model.enc_activation)
        model.enc_activation = nn.Identity()
        model.apply_masks = _apply_asteroid_mask
    model.serialize = functools.partial(_serialize_with_head, model)  # pickles and deep-copies with the model
    return model
