"""The LightningModule that trains and scores a separator: :class:`SeparationSystem`.

It builds on :class:`asteroid.engine.System` and fixes what it gets wrong
for this package and for multi-process runs:

- the loss receives the model's outputs (``mix_tf``, ``mask``, ``est_tf``,
  ``est_wav``) and the model, as :mod:`bssmask.losses` criteria expect,
  instead of the estimated waveforms only;
- the validation loss is averaged over processes (``sync_dist``), so that
  checkpointing, learning-rate halving and early stopping take the same
  decision on every DDP process;
- ``hp_metric`` is logged only when there is a logger;
- config lists of strings are stored as strings in the hyperparameters
  (Asteroid turns every list into a tensor, which fails on strings);
- a non-finite training loss stops training with :class:`NonFiniteLossError`
  naming the step and batch, or, with ``on_nonfinite="skip"``, skips the
  batch on every process (no update) and counts it in ``skipped_batches``.

Epochs are reproducible: the training data of an epoch (order, excerpts) is
a function of the seed and the epoch number (:mod:`bssmask.data.epochs`;
a resumed run puts the sampler at its epoch here), and
:class:`~bssmask.engine.callbacks.SeedEachEpoch` reseeds the model's random
generators (dropout) the same way, so a run resumed from the checkpoint of
epoch ``k`` trains epoch ``k + 1`` as an uninterrupted run does.

:meth:`SeparationSystem.predict_step` scores test mixtures one by one
(:func:`~bssmask.engine.scoring.score_separation`; ``trainer.predict``
splits them across devices without repeating any) and
:class:`~bssmask.engine.callbacks.GatherRows` collects the scores of every
process.

Example:
    >>> import torch
    >>> from bssmask import losses
    >>> from bssmask.models import MaskSeparator
    >>> model = MaskSeparator(mask="irm", masker="blstm")
    >>> system = SeparationSystem(model, torch.optim.Adam(model.parameters()), losses.get("mask_mse", model), None)
    >>> sources = torch.randn(1, 2, 8000)
    >>> bool(torch.isfinite(system.common_step((sources.sum(1), sources), 0)))
    True
"""

from __future__ import annotations

import torch
from asteroid.engine import System
from asteroid.utils import flatten_dict
from pytorch_lightning.utilities import rank_zero_warn

from ..data.epochs import EpochSampler
from ..errors import RunError
from ..choices import choose
from .scoring import reorder_to_sources, score_separation

__all__ = ["NonFiniteLossError", "ON_NONFINITE", "SeparationSystem"]


class NonFiniteLossError(RunError, FloatingPointError):
    """A NaN or infinite training loss; the message names the step and batch (a failed run, exit code 1)."""


#: What :class:`SeparationSystem` does with a non-finite training loss.
ON_NONFINITE = ("stop", "skip")


class SeparationSystem(System):
    """Asteroid ``System`` for :class:`~bssmask.models.MaskSeparator` and :mod:`bssmask.losses` criteria.

    Args:
        model: the separator.
        optimizer: its optimizer.
        loss_func: ``criterion(outputs, sources [B, n_src, T], model) -> scalar`` (PIT inside).
        train_loader, val_loader: data loaders yielding ``(mixture [B, T], sources [B, n_src, T])``.
        scheduler: learning-rate scheduler (``ReduceLROnPlateau`` monitors ``val_loss``).
        config: the recipe config, saved in the checkpoints.
        on_nonfinite: ``"stop"`` or ``"skip"`` (see :data:`ON_NONFINITE`).
    """

    def __init__(self, *args, on_nonfinite: str = "stop", **kwargs):
        super().__init__(*args, **kwargs)
        self.on_nonfinite = choose("on_nonfinite", on_nonfinite, ON_NONFINITE)
        self.skipped_batches = 0

    def common_step(self, batch, batch_nb, train=True):
        """Loss of a batch ``(mixture [B, T], sources [B, n_src, T], ...)``."""
        mixture, sources = batch[0], batch[1]
        return self.loss_func(self.model.forward_masks(mixture), sources, self.model)

    def training_step(self, batch, batch_nb):
        loss = self.common_step(batch, batch_nb, train=True)
        finite = bool(torch.isfinite(loss))
        if self.on_nonfinite == "skip":
            # Every process skips when any has a bad batch, so DDP stays in step.
            if self.trainer.strategy.reduce_boolean_decision(not finite, all=False):
                self.skipped_batches += 1
                rank_zero_warn(f"non-finite training loss at global step {self.global_step}, epoch "
                               f"{self.current_epoch}, batch {batch_nb}: batch skipped "
                               f"({self.skipped_batches} so far)")
                self.log("skipped_batches", float(self.skipped_batches), on_step=False, on_epoch=True,
                         reduce_fx="max", sync_dist=True)
                return None
        elif not finite:
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.item()}) at global step {self.global_step}, "
                f"epoch {self.current_epoch}, batch {batch_nb}: training stopped; "
                "resume from the last checkpoint after fixing the data or lowering the learning rate"
            )
        self.log("loss", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=batch[0].shape[0])
        return loss

    def on_load_checkpoint(self, checkpoint):
        """Put the training sampler at the epoch the run resumes at.

        Lightning creates the first training iterator (and its workers)
        before it sets the sampler's epoch, so a resumed run must do it here.
        """
        sampler = getattr(self.train_loader, "sampler", None)
        try:
            epoch = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
        except KeyError:  # weights only (load_from_checkpoint of an exported file)
            return
        if isinstance(sampler, EpochSampler):
            sampler.set_epoch(epoch)

    def validation_step(self, batch, batch_nb):
        loss = self.common_step(batch, batch_nb, train=False)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=batch[0].shape[0])

    def on_validation_epoch_end(self):
        if self.logger is not None:
            super().on_validation_epoch_end()

    @staticmethod
    def config_to_hparams(dic):
        """Flattened config for the logger: ``None`` and lists as strings."""
        return {k: str(v) if v is None or isinstance(v, (list, tuple)) else v for k, v in flatten_dict(dic).items()}

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        """Separate and score a batch of one test mixture.

        Args:
            batch: ``(mixture [1, T], sources [1, n_src, T], ids)`` from
                :class:`asteroid.data.LibriMix` with ``return_id=True``.

        Returns:
            ``[row]``: ``mixture_ID``, ``length`` (samples) and the metrics of
            :func:`~bssmask.engine.scoring.score_separation`, estimates reordered to the sources by PIT
            on SI-SDR.
        """
        mixture, sources, ids = batch
        if mixture.shape[0] != 1:
            raise ValueError(f"predict_step scores one mixture per batch, got {mixture.shape[0]}")
        estimates = self.model(mixture)
        estimates = reorder_to_sources(estimates, sources)
        row = {"mixture_ID": "_".join(part[0] for part in ids), "length": int(mixture.shape[-1])}
        row.update(score_separation(mixture[0], sources[0], estimates[0], int(self.model.sample_rate)))
        return [row]
