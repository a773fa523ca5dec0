"""Objects of a recipe config (:mod:`bssmask.recipe_config`): model, loss, data loaders, optimizer, system, Trainer.

The one place that turns the config's sections into library objects (but
the corpus builder's options, :func:`bssmask.recipe_config.corpus_config`, which
the data stage builds without importing Lightning):

- :func:`build_model`, :func:`build_loss`: the separator of ``model`` at
  ``data``'s rate and number of sources, and its criterion;
- :func:`peer_options`: an Asteroid baseline of ``report.peers``;
- :func:`build_loaders`, :func:`build_test_loader`: checked LibriMix-style
  splits (:func:`~bssmask.data.librimix.check_split`) with reproducible epochs
  (:mod:`bssmask.data.epochs`);
- :func:`build_optimization`, :func:`build_system`: optimizer, learning-rate
  halving and the :class:`~bssmask.engine.system.SeparationSystem`;
- :func:`build_trainer`: the one Trainer factory, for training, fine-tuning
  and the report's peers (checkpoints, early stopping, logs) and for scoring
  (``predict=True``).

Example:
    >>> build_model({"data": {"n_src": 2, "sample_rate": 8000}, "model": {"mask": "irm", "masker": "blstm"}}).mask
    'irm'
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from asteroid.data import LibriMix
from asteroid.engine.optimizers import make_optimizer
from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from torch.optim.lr_scheduler import MultiStepLR, ReduceLROnPlateau
from torch.utils.data import DataLoader

from ..recipe_config import ConfigError
from ..data.augment import SpeedPerturbed
from ..data.epochs import EpochSampler, SeededExcerpts
from ..data.librimix import FiniteItems, check_split
from ..engine.callbacks import SeedEachEpoch
from ..engine.system import SeparationSystem
from ..models import MaskSeparator
from ..choices import choose

__all__ = ["build_model", "build_loss", "build_loaders", "build_test_loader", "halving_scheduler",
           "peer_options", "build_optimization", "build_system", "strategy_for", "build_trainer"]


def build_model(conf: dict) -> MaskSeparator:
    """The separator of ``conf["model"]`` at ``conf["data"]``'s rate and number of sources."""
    return MaskSeparator(n_src=conf["data"]["n_src"], sample_rate=conf["data"]["sample_rate"], **conf["model"])


def build_loss(conf: dict, model: MaskSeparator):
    """The criterion of ``conf["loss"]`` (``"default"``: the mask kind's default loss)."""
    return model.criterion(conf["loss"]["loss"], **conf["loss"]["loss_options"])


def _dataset(conf: dict, split_dir: str, segment, return_id: bool = False, min_mixtures: int = 1) -> FiniteItems:
    """The split's :class:`asteroid.data.LibriMix`, checked first (:func:`~bssmask.data.librimix.check_split`:
    its files, and at least ``min_mixtures`` mixtures of ``segment`` seconds)."""
    data = conf["data"]
    if not Path(split_dir).is_dir():
        raise FileNotFoundError(f"{split_dir}: no such data folder (run the data stage first)")
    check_split(split_dir, data["sample_rate"], data["n_src"], data["task"], segment, min_mixtures)
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

    Training drops its last partial batch, so its split must have a batch of
    mixtures at least ``segment`` long; validation keeps it, so one such
    mixture validates and every epoch logs ``val_loss`` (early stopping and
    the best checkpoint follow it).
    """
    data, training = conf["data"], conf["training"]
    if training["speed_perturb"] and data["task"] != "sep_clean":  # the mixture is re-summed: no noise
        raise ConfigError(f"speed_perturb: only for task sep_clean (mixtures that are the sum of their sources), "
                          f"not {data['task']}")
    batch_size = training["batch_size"]
    loaders = []
    for split_dir, train in ((data["train_dir"], True), (data["valid_dir"], False)):
        items = _dataset(conf, split_dir, data["segment"], min_mixtures=batch_size if train else 1)
        if train and training["speed_perturb"]:
            items = SpeedPerturbed(items, training["speed_perturb"])
        dataset = SeededExcerpts(items, training["seed"], fixed=not train)
        # Workers are not persistent, so each epoch's see the dataset at that epoch.
        loaders.append(DataLoader(dataset, sampler=EpochSampler(dataset, training["seed"], shuffle=train),
                                  batch_size=batch_size, num_workers=training["num_workers"], drop_last=train))
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


def peer_options(conf: dict, name: str) -> tuple[str, dict]:
    """``(peer kind, options)`` of ``report.peers[name]`` for :func:`bssmask.peers.build_peer`; ``asteroid_mask``
    takes the model section's masker, masker options and STFT unless given.

    Raises:
        ConfigError: no such peer, or its entry has no ``peer`` key.
    """
    spec = conf["report"]["peers"].get(name)
    if not isinstance(spec, dict) or "peer" not in spec:
        raise ConfigError(f"report.peers.{name}: expected a mapping with a 'peer' key "
                          f"(peers: {', '.join(conf['report']['peers']) or 'none'})")
    options = {k: v for k, v in spec.items() if k != "peer"}
    if spec["peer"] == "asteroid_mask":
        model = conf["model"]
        options = {"masker": model["masker"], "masker_kwargs": model["masker_kwargs"], "n_fft": model["n_fft"],
                   "hop": model["hop"], **options}
    return spec["peer"], options


def build_optimization(parameters, conf: dict):
    """``(optimizer, scheduler)`` of ``conf``: Adam (or ``optim.optimizer``) and :func:`halving_scheduler`."""
    optim = conf["optim"]
    optimizer = make_optimizer(parameters, optimizer=optim["optimizer"], lr=optim["lr"],
                               weight_decay=optim["weight_decay"])
    return optimizer, halving_scheduler(optimizer, conf["training"])


def build_system(conf: dict, with_data: bool = True, model: torch.nn.Module | None = None,
                 loss=None) -> SeparationSystem:
    """The :class:`~bssmask.engine.system.SeparationSystem` that trains a model on ``conf``.

    Adam (or ``optim.optimizer``) and the halving scheduler of ``conf`` on the
    model's parameters, ``conf``'s loaders (None without ``with_data``).

    Args:
        conf: a recipe config.
        with_data: build the training and validation loaders.
        model: the separator to train (default :func:`build_model`'s),
            ``[B, T] -> [B, n_src, T]``: a fine-tuned model or a report's peer.
        loss: its criterion (default :func:`build_loss`'s for ``model``).
    """
    model = build_model(conf) if model is None else model
    optimizer, scheduler = build_optimization(model.parameters(), conf)
    training = conf["training"]
    train, valid = build_loaders(conf) if with_data else (None, None)
    loss = build_loss(conf, model) if loss is None else loss
    return SeparationSystem(model, optimizer, loss, train, valid, scheduler, config=conf,
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


def _fit_options(conf: dict, exp_dir: Path, extra_callbacks, resume: bool) -> dict:
    """``pl.Trainer`` options of a training run: epochs, checkpoints, early stopping, logs, precision, clipping."""
    training = conf["training"]
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
    logger = loggers[choose("logger", training["logger"], loggers)]()
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    return dict(
        max_epochs=training["epochs"], callbacks=callbacks, logger=logger, precision=conf["trainer"]["precision"],
        gradient_clip_val=training["gradient_clipping"] or None, log_every_n_steps=10,
        use_distributed_sampler=False,  # build_loaders's samplers split the data across processes
    )


def build_trainer(conf: dict, exp_dir: str | Path, extra_callbacks=(), resume: bool = False, predict: bool = False,
                  **overrides) -> pl.Trainer:
    """The Trainer of ``conf`` writing to ``exp_dir``: devices, nodes and strategy from ``conf["trainer"]``.

    For training (the default): checkpoints ``exp_dir/checkpoints/best.ckpt``
    (lowest ``val_loss``) and ``last.ckpt`` (every epoch), early stopping,
    precision, gradient clipping and logs under ``exp_dir/logs`` as set in
    ``conf["training"]``. With ``resume`` (the run continues from
    ``last.ckpt``), CSV logs go to ``logs/resumed_<k>/`` so that the earlier
    ones are kept; TensorBoard adds an event file to ``logs/``. The logs
    hold the learning rate of each epoch (``lr-<optimizer>``).

    With ``predict``: a Trainer for ``trainer.predict`` only (scoring), with
    no checkpoints, logger or early stopping, at full precision, Lightning's
    sampler splitting the test mixtures across the devices.

    ``extra_callbacks`` are added to those; ``overrides`` go to ``pl.Trainer``
    (e.g. ``limit_train_batches``, ``max_time``).
    """
    exp_dir = Path(exp_dir)
    trainer = conf["trainer"]
    options = dict(accelerator=trainer["accelerator"], devices=trainer["devices"], num_nodes=trainer["num_nodes"],
                   strategy=strategy_for(conf), default_root_dir=exp_dir, enable_model_summary=False,
                   enable_progress_bar=conf["training"]["progress_bar"])
    if predict:
        options.update(callbacks=list(extra_callbacks), logger=False, enable_checkpointing=False)
    else:
        options.update(_fit_options(conf, exp_dir, extra_callbacks, resume))
    return pl.Trainer(**{**options, **overrides})
