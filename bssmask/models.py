"""Asteroid separators that predict a bssmask mask kind.

- :class:`MaskSeparator`: an Asteroid ``BaseEncoderMaskerDecoder`` built from
  an STFT (:func:`bssmask.stft.make_stft`), any Asteroid masker by name
  (:data:`MASKERS`), a bssmask head (:mod:`bssmask.heads`) and optional
  frequency downsampling with mask upsampling (:mod:`bssmask.freq_resample`).
  It implements the separator interface, :class:`bssmask.separator.Separator`;
  :func:`bssmask.separator.attach_head` puts a bssmask head on an existing
  Asteroid model instead.

Saving and reloading, whatever the model, is :mod:`bssmask.model_files` (``save_model``, ``load_model``).

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

import inspect
import os

import torch
from asteroid import masknn
from asteroid.models.base_models import BaseEncoderMaskerDecoder, _unsqueeze_to_3d
from asteroid.utils.torch_utils import pad_x_to_y
from torch import nn

from . import checkpoint, compat, freq_resample, heads, losses, masks
from .choices import choose
from .stft import make_stft

compat.int_dccrn_rnn_size()

__all__ = ["MASKERS", "MaskSeparator"]

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
        sample_rate: sample rate of the model (Hz).
        masker_out: feature rows per source the masker outputs (default: the
            head's mask rows, ``F'`` or ``2F'``); set by :meth:`with_head` so
            that a model whose head was swapped keeps its masker and reloads.

    The other arguments are the fields of
    :class:`~bssmask.model_options.ModelOptions`, where each one's meaning is
    declared (torch-free); a recipe config's ``model`` section holds them.

    The masker sees the downsampled mixture STFT in Asteroid's format
    (real then imaginary parts, ``2F'`` channels) and outputs per-source
    features; maskers that take ``out_chan`` output exactly the head's rows,
    so the head holds no projection.
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
        freq_resample.check_factor(n_freq, factor)
        choose("method", method, freq_resample.UP_METHODS)
        choose("space", space, freq_resample.SPACES)
        choose("down_method", down_method, freq_resample.DOWN_METHODS)
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
            low = freq_resample.downsample(masks.from_asteroid(mix_tf), self.factor, self.down_method, self.space)
            features = masks.to_asteroid(low)
        z = self.head.predict(self.masker(features)).float()
        if self.factor == 1:
            return z
        if self.head.kind.is_complex:
            full = freq_resample.upsample(masks.from_asteroid(z), self.n_freq, self.method, self.space)
            return masks.to_asteroid(full)
        return freq_resample.upsample(z, self.n_freq, self.method, self.space)

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

    def trainable_parts(self) -> dict[str, nn.Module]:
        """The encoder and the masker (the head apart): what fine-tuning may hold still."""
        return {"encoder": self.encoder, "masker": self.masker}

    def criterion(self, name: str = "default", **options) -> losses.Criterion:
        """The loss ``name`` of :mod:`bssmask.losses`, checked against the head's kind.

        Args:
            name: a loss name, or ``"default"``: the head's (:func:`bssmask.losses.default_for`).
            **options: :class:`~bssmask.losses.Criterion` options (``pit``).

        Example:
            >>> MaskSeparator(mask="ibm", masker="blstm").criterion().name
            'mask_bce'
        """
        return losses.get(losses.default_for(self) if name == "default" else name, self, **options)

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
        """A ``MaskSeparator`` from ``serialize()`` output (:func:`bssmask.checkpoint.read_package`).

        Args:
            pretrained_model_conf_or_path: a ``serialize()`` dict, a file, the
                name of a bundled model (``"default"``), a hub id or URL.
            **kwargs: override the stored model arguments, as in Asteroid.

        Raises:
            CheckpointError: not a file of a ``MaskSeparator`` (another model's
                file names :func:`bssmask.model_files.load_model`, which loads any).

        Example:
            >>> model = MaskSeparator.from_pretrained(MaskSeparator(mask="irm", masker="blstm").serialize())
            >>> model.mask, model.masker_name
            ('irm', 'blstm')
        """
        source, package = checkpoint.read_package(pretrained_model_conf_or_path)
        if package["model_name"] != cls.__name__:
            named = pretrained_model_conf_or_path
            raise checkpoint.CheckpointError(
                f"{os.fspath(named) if isinstance(named, (str, os.PathLike)) else source}: not a bssmask model file "
                f"(it holds a {package['model_name']}, not a {cls.__name__}; bssmask.model_files.load_model loads it)")
        return checkpoint.build_from_package(package, source, lambda args: (cls(**args),) * 2, **kwargs)
