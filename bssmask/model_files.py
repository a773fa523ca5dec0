"""Model files: the one place that saves and loads separators.

- :func:`save_model`: ``model.serialize()`` (a :class:`~bssmask.models.MaskSeparator`,
  any Asteroid model, an :class:`~bssmask.separator.AsteroidSeparator` with or
  without a head from :func:`~bssmask.separator.attach_head`)
  with extra ``infos``, written atomically; :func:`save_package` writes any
  package dict the same way (a bundled model, a peer's weights).
- :func:`load_model`: the way back for all of them, from a ``serialize()``
  dict, a file, a bundled model (``"default"``) or the hub (online), as a
  separator (:class:`~bssmask.separator.Separator`);
  ``MaskSeparator.from_pretrained``, ``bssmask separate``, fine-tuning and
  the recipe's scripts read models through it. Files are read with
  :func:`bssmask.checkpoint.load_safe` (weights only, never executing code).
- :func:`check_compatible`: refuse a model whose sample rate or number of
  sources is not the data's.

Example:
    >>> import os, tempfile
    >>> from asteroid.models import DCUNet
    >>> from bssmask.separator import attach_head
    >>> dcunet = attach_head(DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad"), "irm")
    >>> path = save_model(dcunet, os.path.join(tempfile.mkdtemp(), "dcunet_irm.pth"), {"note": "example"})
    >>> loaded = load_model(path)
    >>> type(loaded.model).__name__, loaded.head.kind.name
    ('DCUNet', 'irm')
"""

from __future__ import annotations

from pathlib import Path

import torch
from asteroid import models as asteroid_models
from torch import nn

from . import checkpoint
from .atomic import atomic_path
from .checkpoint import PretrainedError
from .models import MaskSeparator
from .separator import HEAD_KEY, AsteroidSeparator, Separator, attach_head

__all__ = ["save_package", "save_model", "load_model", "check_compatible"]


def save_package(package: dict, path: str | Path) -> Path:
    """Write ``package`` (tensors and plain containers) to ``path`` with ``torch.save``, atomically."""
    with atomic_path(path) as tmp:
        torch.save(package, tmp)
    return Path(path)


def save_model(model: nn.Module, path: str | Path, infos: dict | None = None) -> Path:
    """Save ``model.serialize()`` (with its attached head) to ``path``, ``infos`` added to its ``"infos"``."""
    package = model.serialize()
    package.setdefault("infos", {}).update(infos or {})
    return save_package(package, path)


def load_model(pretrained, **model_args) -> Separator:
    """A separator from ``serialize()`` output: ``MaskSeparator``, any Asteroid model, or one with a bssmask head.

    A package holds ``model_name``, ``model_args`` and ``state_dict``
    (Asteroid's ``serialize()``), plus the head's kind and options under
    :data:`bssmask.separator.HEAD_KEY` when :func:`~bssmask.separator.attach_head`
    put a head on it; the model is built from its arguments, gets the same
    head back, then its weights. An Asteroid model comes back in an
    :class:`~bssmask.separator.AsteroidSeparator` (its ``model``).

    Args:
        pretrained: a ``serialize()`` dict, or what
            :func:`bssmask.checkpoint.locate` finds: a file, a bundled model
            (``"default"``), a hub id or URL (online only).
        **model_args: override the stored model arguments.

    Returns:
        The separator, in training mode as built (call ``.eval()`` to separate).

    Raises:
        CheckpointError: missing, unsafe or malformed file, or weights that do not fit the model.
        PretrainedError: an unknown model class, or a hub id that cannot be fetched.
    """
    source, package = checkpoint.read_package(pretrained)
    name = package["model_name"]
    if name == MaskSeparator.__name__:
        cls = MaskSeparator
    else:
        try:
            cls = asteroid_models.get(name)
        except ValueError:
            raise PretrainedError(f"{source}: unknown model class {name!r}") from None
    head = package.get(HEAD_KEY)

    def build(args: dict) -> tuple[nn.Module, Separator]:
        built = cls(**args)
        if head is not None:
            return built, attach_head(built, head["mask"], **head["options"])
        return built, built if cls is MaskSeparator else AsteroidSeparator(built)

    return checkpoint.build_from_package(package, source, build, **model_args)


def check_compatible(model: Separator, sample_rate: int, n_src: int, source: str = "pretrained model") -> None:
    """Refuse a separator whose sample rate or number of sources (if it says) differs from the data's.

    Raises:
        PretrainedError: naming ``source``, the model's and the data's values.
    """
    model_rate = float(model.sample_rate or 0)
    if model_rate != float(sample_rate):
        raise PretrainedError(
            f"{source}: model works at {model_rate:g} Hz but the data is at {sample_rate} Hz; "
            "build the corpus at the model's rate (--sample_rate) or pick a model trained at the data's rate"
        )
    if model.n_src is not None and int(model.n_src) != int(n_src):
        raise PretrainedError(f"{source}: model separates {model.n_src} sources but the data has {n_src}")
