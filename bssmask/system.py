"""Training and evaluation of a :class:`~bssmask.models.MaskSeparator` with PyTorch Lightning.

:class:`SeparationSystem` builds on :class:`asteroid.engine.System` and fixes
what it gets wrong for this package and for multi-process runs:

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
a function of the seed and the epoch number (:mod:`bssmask.data.epochs`),
and :class:`SeedEachEpoch` reseeds the model's random generators (dropout)
the same way, so a run resumed from the checkpoint of epoch ``k`` trains
epoch ``k + 1`` as an uninterrupted run does.

:meth:`SeparationSystem.predict_step` scores test mixtures one by one
(``trainer.predict`` splits them across devices without repeating any) and
:class:`GatherRows` collects the scores of every process.
The ``build_*`` functions turn a recipe config (:mod:`bssmask.config`)
into the data loaders, the system and the Trainer.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from asteroid.data import LibriMix
from asteroid.engine import System
from asteroid.engine.optimizers import make_optimizer
from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr
from asteroid.utils import flatten_dict
from pytorch_lightning.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_warn
from torch.optim.lr_scheduler import MultiStepLR, ReduceLROnPlateau
from torch.utils.data import DataLoader

from . import losses
from .data.augment import SpeedPerturbed
from .data.librimix import FiniteItems, check_split
from .data.epochs import EpochSampler, SeededExcerpts
from .metrics import separation_metrics
from .models import MaskSeparator
from .stats import nanmean

#: Per-mixture metrics of :meth:`SeparationSystem.predict_step` (each also with an ``input_`` baseline).
EVAL_METRICS = ("sdr", "si_sdr", "sir", "sar", "pesq", "stoi")


def _pesq_stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """PESQ (narrow band at 8 kHz, wide band at 16 kHz, else NaN) and STOI of one source.

    Both are NaN for a silent estimate or reference, PESQ also where it finds no utterance.
    """
    from pesq import PesqError, pesq
    from pystoi import stoi

    if not (np.any(ref) and np.any(est)):
        return math.nan, math.nan
    mode = {8000: "nb", 16000: "wb"}.get(sample_rate)
    try:
        pesq_value = pesq(sample_rate, ref, est, mode) if mode else math.nan
    except (PesqError, ValueError):
        pesq_value = math.nan
    return float(pesq_value), float(stoi(ref, est, sample_rate))


def score_mixture(mixture: torch.Tensor, sources: torch.Tensor, estimates: torch.Tensor, sample_rate: int) -> dict:
    """Metrics of one separated mixture, means over sources (NaN left out).

    Args:
        mixture: ``[T]``.
        sources: references ``[n_src, T]``.
        estimates: ``[n_src, T]`` in the order of ``sources``.
        sample_rate: Hz (PESQ needs 8 or 16 kHz).

    Returns:
        ``{metric: value, "input_" + metric: value of the mixture as estimate}``
        for every metric of :data:`EVAL_METRICS`.
    """
    row = {}
    for prefix, est in (("", estimates), ("input_", mixture.expand_as(sources))):
        scores = separation_metrics(sources, est)
        ref_np, est_np = sources.double().cpu().numpy(), est.double().cpu().numpy()
        pesq_stoi = np.array([_pesq_stoi(r, e, sample_rate) for r, e in zip(ref_np, est_np)])
        per_source = {**{k: scores[k].numpy() for k in ("sdr", "si_sdr", "sir", "sar")},
                      "pesq": pesq_stoi[:, 0], "stoi": pesq_stoi[:, 1]}
        for metric, values in per_source.items():
            finite = values[np.isfinite(values)]
            row[prefix + metric] = float(finite.mean()) if finite.size else math.nan
    return row


class NonFiniteLossError(FloatingPointError):
    """A NaN or infinite training loss; the message names the step and batch."""


#: What :class:`SeparationSystem` does with a non-finite training loss.
ON_NONFINITE = ("stop", "skip")


class SeedEachEpoch(Callback):
    """Seed Python, NumPy and torch with ``seed + epoch`` when each training epoch starts.

    What the training steps draw (dropout) then depends on the epoch
    number, not on what ran before in this process.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module):
        pl.seed_everything(self.seed + trainer.current_epoch, workers=True, verbose=False)


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
        if on_nonfinite not in ON_NONFINITE:
            raise ValueError(f"on_nonfinite: {on_nonfinite!r} not in {', '.join(ON_NONFINITE)}")
        self.on_nonfinite = on_nonfinite
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
            :func:`score_mixture`, estimates reordered to the sources by PIT
            on SI-SDR.
        """
        mixture, sources, ids = batch
        if mixture.shape[0] != 1:
            raise ValueError(f"predict_step scores one mixture per batch, got {mixture.shape[0]}")
        estimates = self.model(mixture)
        pit = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")
        _, estimates = pit(estimates, sources, return_est=True)
        row = {"mixture_ID": "_".join(part[0] for part in ids), "length": int(mixture.shape[-1])}
        row.update(score_mixture(mixture[0], sources[0], estimates[0], int(self.model.sample_rate)))
        return [row]


class GatherRows(Callback):
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


def build_model(conf: dict) -> MaskSeparator:
    """The separator of ``conf["model"]`` at ``conf["data"]``'s rate and number of sources."""
    return MaskSeparator(n_src=conf["data"]["n_src"], sample_rate=conf["data"]["sample_rate"], **conf["model"])


def build_loss(conf: dict, model: MaskSeparator):
    """The criterion of ``conf["loss"]`` (``"default"``: the mask kind's default loss)."""
    name = conf["loss"]["loss"]
    if name == "default":
        name = losses.default_for(model)
    return losses.get(name, model, **conf["loss"]["loss_options"])


def _dataset(conf: dict, split_dir: str, segment, return_id: bool = False) -> FiniteItems:
    """The split's :class:`asteroid.data.LibriMix`, checked first (:func:`~bssmask.data.checks.check_split`)."""
    data = conf["data"]
    if not Path(split_dir).is_dir():
        raise FileNotFoundError(f"{split_dir}: no such data folder (run the data stage first)")
    check_split(split_dir, data["sample_rate"], data["n_src"], data["task"])
    return FiniteItems(LibriMix(split_dir, task=data["task"], sample_rate=data["sample_rate"], n_src=data["n_src"],
                                segment=segment, return_id=return_id))


def build_loaders(conf: dict) -> tuple[DataLoader, DataLoader]:
    """Training and validation loaders of ``segment``-second excerpts.

    Training items are speed-perturbed (:class:`~bssmask.data.augment.SpeedPerturbed`)
    when ``training.speed_perturb`` lists factors. Both use
    :class:`~bssmask.data.epochs.EpochSampler` (the Trainer of
    :func:`build_trainer` does not replace it): training excerpts and order
    follow the seed and the epoch, validation excerpts are the same in every
    epoch; each DDP process reads its share.
    """
    data, training = conf["data"], conf["training"]
    # Workers are not persistent, so each epoch's see the dataset at that epoch.
    kwargs = dict(batch_size=training["batch_size"], num_workers=training["num_workers"], drop_last=True)
    loaders = []
    for split_dir, train in ((data["train_dir"], True), (data["valid_dir"], False)):
        items = _dataset(conf, split_dir, data["segment"])
        if train and training["speed_perturb"]:
            items = SpeedPerturbed(items, training["speed_perturb"])
        dataset = SeededExcerpts(items, training["seed"], fixed=not train)
        loaders.append(DataLoader(dataset, sampler=EpochSampler(dataset, training["seed"], shuffle=train), **kwargs))
    return loaders[0], loaders[1]


def build_test_loader(conf: dict) -> DataLoader:
    """Full test mixtures, one per batch, with their ids."""
    return DataLoader(_dataset(conf, conf["data"]["test_dir"], None, return_id=True), batch_size=1, shuffle=False)


def halving_scheduler(optimizer: torch.optim.Optimizer, training: dict):
    """The learning-rate halving of a config's ``training`` section, or ``None`` without ``half_lr``.

    With ``lr_milestones`` (epochs, increasing) the rate is halved when each
    of those epochs starts (``MultiStepLR``); with an empty list it is halved
    after ``lr_patience`` epochs without a better ``val_loss``
    (``ReduceLROnPlateau``).

    Raises:
        ValueError: ``lr_milestones`` is not a list of increasing positive epochs.
    """
    if not training["half_lr"]:
        return None
    milestones = training["lr_milestones"]
    if not milestones:
        return ReduceLROnPlateau(optimizer, factor=0.5, patience=training["lr_patience"])
    if (any(not isinstance(m, int) or isinstance(m, bool) or m < 1 for m in milestones)
            or sorted(set(milestones)) != list(milestones)):
        raise ValueError(f"lr_milestones: expected increasing positive epochs, got {milestones!r}")
    return MultiStepLR(optimizer, milestones, gamma=0.5)


def build_optimization(parameters, conf: dict):
    """``(optimizer, scheduler)`` of ``conf``: Adam (or ``optim.optimizer``) and :func:`halving_scheduler`."""
    optim = conf["optim"]
    optimizer = make_optimizer(parameters, optimizer=optim["optimizer"], lr=optim["lr"],
                               weight_decay=optim["weight_decay"])
    return optimizer, halving_scheduler(optimizer, conf["training"])


def build_system(conf: dict, with_data: bool = True) -> SeparationSystem:
    """Model, criterion, Adam (or ``optim.optimizer``), halving scheduler and loaders of ``conf``."""
    model = build_model(conf)
    optimizer, scheduler = build_optimization(model.parameters(), conf)
    training = conf["training"]
    train, valid = build_loaders(conf) if with_data else (None, None)
    return SeparationSystem(model, optimizer, build_loss(conf, model), train, valid, scheduler, config=conf,
                            on_nonfinite=training["on_nonfinite"])


def strategy_for(conf: dict) -> str:
    """``trainer.strategy``; ``auto`` on several devices or nodes is DDP that tolerates unused parameters."""
    trainer = conf["trainer"]
    devices = trainer["devices"]
    several = trainer["num_nodes"] > 1 or (isinstance(devices, int) and devices > 1) or (
        isinstance(devices, list) and len(devices) > 1)
    if trainer["strategy"] == "auto" and several:
        return "ddp_find_unused_parameters_true"
    return trainer["strategy"]


def _csv_version(log_root: Path, resume: bool) -> str:
    """``""`` (logs in ``log_root``), or for a resumed run the first free ``resumed_<k>`` (earlier logs kept)."""
    if not resume or not (log_root / "metrics.csv").exists():
        return ""
    k = 1
    while (log_root / f"resumed_{k}").exists():
        k += 1
    return f"resumed_{k}"


def build_trainer(conf: dict, exp_dir: str | Path, extra_callbacks=(), resume: bool = False,
                  **overrides) -> pl.Trainer:
    """Trainer of ``conf`` writing to ``exp_dir``.

    Checkpoints ``exp_dir/checkpoints/best.ckpt`` (lowest ``val_loss``) and
    ``last.ckpt`` (every epoch), early stopping and logs under ``exp_dir/logs`` as set in
    ``conf["training"]``; devices, nodes and strategy from ``conf["trainer"]``.
    ``extra_callbacks`` are added to those; ``overrides`` go to ``pl.Trainer``
    (e.g. ``limit_train_batches``). With ``resume`` (the run continues from
    ``last.ckpt``), CSV logs go to ``logs/resumed_<k>/`` so that the earlier
    ones are kept; TensorBoard adds an event file to ``logs/``. The logs
    hold the learning rate of each epoch (``lr-<optimizer>``).
    """
    exp_dir = Path(exp_dir)
    training, trainer = conf["training"], conf["trainer"]
    # Two checkpoint callbacks: Lightning's save_last rewrites last.ckpt only when best.ckpt changes, and a
    # resumed run must start after the latest epoch, not the latest improvement.
    callbacks = [ModelCheckpoint(dirpath=exp_dir / "checkpoints", filename="best", monitor="val_loss", mode="min",
                                 save_top_k=1, enable_version_counter=False),
                 ModelCheckpoint(dirpath=exp_dir / "checkpoints", filename="last", enable_version_counter=False),
                 SeedEachEpoch(training["seed"])]
    if training["early_stop"]:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=training["patience"]))
    callbacks.extend(extra_callbacks)
    loggers = {
        "tensorboard": lambda: TensorBoardLogger(exp_dir, name="logs", version=""),
        "csv": lambda: CSVLogger(exp_dir, name="logs", version=_csv_version(exp_dir / "logs", resume)),
        "none": lambda: False,
    }
    if training["logger"] not in loggers:
        raise ValueError(f"logger: {training['logger']!r} not in {', '.join(loggers)}")
    logger = loggers[training["logger"]]()
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    kwargs = dict(
        max_epochs=training["epochs"], callbacks=callbacks, logger=logger,
        default_root_dir=exp_dir, accelerator=trainer["accelerator"], devices=trainer["devices"],
        num_nodes=trainer["num_nodes"], strategy=strategy_for(conf), precision=trainer["precision"],
        gradient_clip_val=training["gradient_clipping"] or None,
        enable_progress_bar=training["progress_bar"], log_every_n_steps=10, enable_model_summary=False,
        use_distributed_sampler=False,  # build_loaders's samplers split the data across processes
    )
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def predict_rows(model, conf: dict, exp_dir: str | Path) -> list[dict]:
    """Score ``model`` on every test mixture of ``conf``, split across ``conf["trainer"]``'s devices.

    Returns the rows of :meth:`SeparationSystem.predict_step`, each test
    mixture once, in the order of the test CSV (on every process).
    """
    loader = build_test_loader(conf)
    gather = GatherRows()
    trainer = pl.Trainer(
        accelerator=conf["trainer"]["accelerator"], devices=conf["trainer"]["devices"],
        num_nodes=conf["trainer"]["num_nodes"], strategy=strategy_for(conf), logger=False,
        callbacks=[gather], enable_checkpointing=False, enable_model_summary=False,
        enable_progress_bar=conf["training"]["progress_bar"], default_root_dir=exp_dir,
    )
    trainer.predict(SeparationSystem(model, None, None, None, config=conf), loader, return_predictions=False)
    order = {mid: i for i, mid in enumerate(loader.dataset.df["mixture_ID"])}
    return sorted(gather.rows, key=lambda r: order[r["mixture_ID"]])


def summarize(rows: list[dict], conf: dict, model_path) -> dict:
    """Means over mixtures (NaN left out) of each metric, its input baseline and improvement."""
    summary = {}
    for metric in EVAL_METRICS:
        summary[metric] = nanmean([r[metric] for r in rows])
        summary[f"input_{metric}"] = nanmean([r[f"input_{metric}"] for r in rows])
        summary[f"{metric}_imp"] = nanmean([r[metric] - r[f"input_{metric}"] for r in rows])
    summary.update(n_mixtures=len(rows), model=str(model_path), config=conf)
    return summary
