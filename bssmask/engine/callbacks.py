"""Lightning callbacks of training and scoring.

- :class:`SeedEachEpoch`: reseed every random generator when an epoch
  starts, so a resumed run trains as an uninterrupted one;
- :class:`GatherRows`: collect the rows ``predict_step`` returns on every
  process, each test mixture once;
- :class:`FreezeParts`: hold the encoder and/or masker of a separator
  (its ``trainable_parts()``) still, for some epochs or throughout.

Example:
    >>> freeze = FreezeParts(["encoder", "masker"], epochs=1)   # for the first epoch
    >>> freeze.parts, freeze.epochs
    (('encoder', 'masker'), 1)
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

__all__ = ["SeedEachEpoch", "GatherRows", "FreezeParts"]


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


class FreezeParts(pl.Callback):
    """Keep parts of the model still: for the first ``epochs`` epochs, or throughout (``epochs=None``).

    Frozen parameters have ``requires_grad=False``, get no gradient and so are
    left untouched by the optimizer; they are released at the start of epoch
    ``epochs``.

    Args:
        parts: names among ``"encoder"``, ``"masker"``: parts of the separator's
            ``trainable_parts()`` (:class:`bssmask.separator.Separator`).
        epochs: number of epochs to keep them frozen; None: the whole run.
    """

    def __init__(self, parts, epochs: int | None = None):
        self.parts, self.epochs = tuple(parts), epochs

    def on_train_epoch_start(self, trainer, pl_module):
        frozen = self.epochs is None or trainer.current_epoch < self.epochs
        modules = pl_module.model.trainable_parts()
        for part in self.parts:
            for param in modules[part].parameters():
                param.requires_grad_(not frozen)
