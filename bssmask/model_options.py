"""The options of :class:`bssmask.models.MaskSeparator` that a recipe config sets, importable without torch.

:class:`ModelOptions` declares the ``model`` section of a recipe config
(:data:`bssmask.recipe_config.SCHEMA`): one field per argument of
:class:`~bssmask.models.MaskSeparator` but ``n_src`` and ``sample_rate``
(the ``data`` section's) and ``masker_out`` (set by ``with_head``), with the
argument's name, type and meaning, in the signature's order. The defaults are
the separator's own: a recipe config gives every key.

Example:
    >>> from bssmask.options import meanings
    >>> meanings(ModelOptions)["method"]
    'mask upsampling method, one of nearest, bilinear, bicubic'
    >>> ModelOptions.__annotations__["mask_options"]
    'dict | None'
"""

from __future__ import annotations

from dataclasses import dataclass

from .choices import DOWN_METHODS, SPACES, UP_METHODS
from .options import option

#: The mask kinds registered by :mod:`bssmask.masks` (its ``KINDS`` before any :func:`~bssmask.masks.register`).
MASK_KINDS = ("ibm", "irm", "wiener", "iam", "psm", "cirm")
#: The names of the Asteroid maskers of :data:`bssmask.models.MASKERS`.
MASKER_NAMES = ("dprnn", "tdconvnet", "blstm", "lstm", "dptransformer")


@dataclass(frozen=True)
class ModelOptions:
    """The ``model`` section's keys: each :class:`~bssmask.models.MaskSeparator` argument it sets, with its meaning."""

    mask: str = option(help=f"mask kind, one of {', '.join(MASK_KINDS)}")
    masker: str = option(help=f"Asteroid masker name, one of {', '.join(MASKER_NAMES)}")
    n_fft: int = option(help="FFT size; F = n_fft // 2 + 1 (the default 254 gives F = 128, divisible by factors 2, "
                             "4, 8...)")
    hop: int = option(help="STFT hop size in samples")
    mask_options: dict | None = option(help='options of the head and of the mask kind (bssmask.heads.get), e.g. '
                                            '{"bound": "compressed"}')
    masker_kwargs: dict | None = option(help="masker constructor options, over the masker's defaults (MASKERS, then "
                                             "Asteroid's)")
    factor: int = option(help="frequency downsampling factor of the masker's input and the head's output (1: full "
                              "resolution). Must divide F")
    method: str = option(help=f"mask upsampling method, one of {', '.join(UP_METHODS)}")
    space: str = option(help=f"complex interpolation space, one of {', '.join(SPACES)}")
    down_method: str = option(help=f"input downsampling method, one of {', '.join(DOWN_METHODS)}")
    window: str = option(help='STFT window, "sqrt-hann" (Asteroid\'s default) or "hann" (bssmask.stft.WINDOWS)')
