"""Lightning callbacks of training and scoring.

- :class:`SeedEachEpoch`: reseed every random generator when an epoch
  starts, so a resumed run trains as an uninterrupted one;
- :class:`GatherRows`: collect the rows ``predict_step`` returns on every
  process, each test mixture once;
- :class:`FreezeParts`: hold the encoder and/or masker of a separator
  (:func:`trainable_parts`) still, for some epochs or throughout.

Example:
    >>> from bssmask.models import MaskSeparator
    >>> sorted(trainable_parts(MaskSeparator(mask="irm", masker="blstm")))
    ['encoder', 'masker']
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from ..models import HeadMasker
from ..peers import PeerSeparator

__all__ = ["SeedEachEpoch", "GatherRows", "FreezeParts", "trainable_parts"]


class SeedEachEpoch(pl.Callback):
    """Seed Python, NumPy and torch with ``seed + epoch`` when each training epoch starts.

    What the training steps draw (dropout) then depends on the epoch
    number, not on what ran before in this process.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module):
        pl.seed_everything(self.seed + trainer.current_epoch, workers=True, verbose=False)


class GatherRows(pl.Callback):
    """Collect the rows returned by ``predict_step`` on every process.

    After ``trainer.predict``, :attr:`rows` holds each mixture's row exactly
    once (by ``mixture_ID``), on every process.
    """

    def __init__(self):
        self.rows: list[dict] = []
        self._local: list[dict] = []

    def on_predict_epoch_start(self, trainer, pl_module):
        self._local = []

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._local.extend(outputs)

    def on_predict_epoch_end(self, trainer, pl_module):
        parts = [self._local]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            parts = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(parts, self._local)
        unique = {}
        for part in parts:
            for row in part:
                unique.setdefault(row["mixture_ID"], row)
        self.rows = list(unique.values())


def trainable_parts(model: nn.Module) -> dict[str, nn.Module]:
    """The encoder and the masker proper (without the bssmask head) of a separator.

    Args:
        model: a :class:`~bssmask.models.MaskSeparator`, an Asteroid model
            (with or without :func:`~bssmask.models.attach_head`), or one
            wrapped in a :class:`~bssmask.peers.PeerSeparator` for training.
    """
    if isinstance(model, PeerSeparator):
        model = model.model
    masker = model.masker.masker if isinstance(model.masker, HeadMasker) else model.masker
    return {"encoder": model.encoder, "masker": masker}


class FreezeParts(pl.Callback):
    """Keep parts of the model still: for the first ``epochs`` epochs, or throughout (``epochs=None``).

    Frozen parameters have ``requires_grad=False``, get no gradient and so are
    left untouched by the optimizer; they are released at the start of epoch
    ``epochs``.

    Args:
        parts: names among ``"encoder"``, ``"masker"`` (:func:`trainable_parts`).
        epochs: number of epochs to keep them frozen; None: the whole run.
    """

    def __init__(self, parts, epochs: int | None = None):
        self.parts, self.epochs = tuple(parts), epochs

    def on_train_epoch_start(self, trainer, pl_module):
        frozen = self.epochs is None or trainer.current_epoch < self.epochs
        modules = trainable_parts(pl_module.model)
        for part in self.parts:
            for param in modules[part].parameters():
                param.requires_grad_(not frozen)
