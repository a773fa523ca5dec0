"""Training a recipe config: a separator with its mask head (:func:`train`), a peer of the report
(:func:`train_and_score_peer`).

Both seed everything with ``training.seed``, build the run's objects with
:mod:`bssmask.recipe.build` and write to the experiment folder: the config
used (``conf.yml``), ``checkpoints/``, ``logs/`` and the model file. With
several devices they run as one process per device (Lightning's DDP);
process 0 writes the files.

Example (the recipes' ``train.py``, from ``recipes/asterisk2mix``)::

    conf = config.load("conf.yml", ["local/quick.yml"])
    train(conf, "exp/quick")                 # exp/quick/best_model.pth
    train(conf, "exp/quick", resume=True)    # continues from exp/quick/checkpoints/last.ckpt
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl

from .. import config, losses
from ..checkpoint import CheckpointError, load_safe
from ..engine.system import SeparationSystem
from ..io import save_model, save_package
from ..peers import build_peer
from .build import build_loaders, build_optimization, build_system, build_trainer, peer_options
from .evaluate import score_and_save_examples

__all__ = ["train", "train_and_score_peer", "check_resumable", "export_best"]


def check_resumable(last: Path, system) -> None:
    """Refuse a last checkpoint whose weights do not fit the model of the config (another model or n_src)."""
    package = load_safe(last)
    state = package.get("state_dict") if isinstance(package, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{last}: not a Lightning checkpoint (no state_dict)")
    expected = system.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    resized = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or resized:
        what = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                else f"{resized[0]} has shape {tuple(state[resized[0]].shape)}, the config's model "
                     f"{tuple(expected[resized[0]].shape)}")
        raise CheckpointError(f"--resume true: {last} holds another model than the config's ({what}); "
                              "resume with the config it was trained with, or train under another --tag")


def export_best(system, trainer: pl.Trainer, conf: dict, exp_dir: Path) -> Path:
    """Save the model of the best checkpoint as ``exp_dir/best_model.pth``."""
    best = trainer.checkpoint_callback.best_model_path
    system.load_state_dict(load_safe(best)["state_dict"])
    training = dict(config=conf, checkpoint=str(best), epochs=trainer.current_epoch, global_step=trainer.global_step,
                    best_val_loss=float(trainer.checkpoint_callback.best_model_score))
    return save_model(system.model, exp_dir / "best_model.pth", {"training": training})


def train(conf: dict, exp_dir: str | Path, resume: bool = False) -> None:
    """Train the separator of ``conf`` in ``exp_dir`` and export its best weights as ``best_model.pth``.

    Writes ``conf.yml``, ``checkpoints/best.ckpt`` and ``last.ckpt``, ``logs/``
    and ``best_model.pth`` (``MaskSeparator.serialize()`` of the best
    checkpoint, :mod:`bssmask.io`). ``resume`` continues from
    ``checkpoints/last.ckpt``; the epochs it trains are those an
    uninterrupted run of the same seed trains (:mod:`bssmask.data.epochs`).

    Raises:
        ConfigError: a section of the config is missing.
        FileNotFoundError: ``resume`` without a last checkpoint.
        CheckpointError: the last checkpoint holds another model than the config's.
        RunError: the training loss became non-finite (``training.on_nonfinite``).
    """
    exp_dir = Path(exp_dir)
    last = exp_dir / "checkpoints" / "last.ckpt"
    config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    if resume and not last.is_file():
        raise FileNotFoundError(f"--resume true: {last} does not exist")
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    system = build_system(conf)
    if resume:
        check_resumable(last, system)
    trainer = build_trainer(conf, exp_dir, resume=resume)
    if trainer.is_global_zero:
        config.dump(conf, exp_dir / "conf.yml")
    trainer.fit(system, ckpt_path=last if resume else None, weights_only=True)
    if trainer.is_global_zero:
        path = export_best(system, trainer, conf, exp_dir)
        print(f"best model (val_loss {trainer.checkpoint_callback.best_model_score:.4f}): {path}")


def train_and_score_peer(conf: dict, exp_dir: str | Path, name: str) -> None:
    """Train the Asteroid peer ``name`` of ``report.peers`` for ``report.peer_minutes`` and score it like a head.

    The peer (:mod:`bssmask.peers`) trains on the config's data with the
    config's optimizer, learning-rate schedule, batch size and seed, the
    ``sisdr`` loss with PIT, for a wall-clock budget (Lightning's
    ``max_time``; early stopping as configured). Writes ``conf.yml``,
    ``checkpoints/``, ``logs/`` and ``peer_model.pth`` (``{"peer", "options",
    "state_dict", "training"}``) with the weights at the end of the budget,
    which are then scored on the test sets, their examples saved
    (:func:`bssmask.recipe.evaluate.score_and_save_examples`).

    Raises:
        ConfigError: a section of the config is missing, or ``name`` is not a peer of ``report.peers``.
    """
    exp_dir = Path(exp_dir)
    config.require(conf, "data", "model", "optim", "training", "trainer", "report", "eval")
    kind, options = peer_options(conf, name)
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    peer = build_peer(kind, conf["data"]["n_src"], conf["data"]["sample_rate"], **options)
    optimizer, scheduler = build_optimization(peer.parameters(), conf)
    train, valid = build_loaders(conf)
    system = SeparationSystem(peer, optimizer, losses.get("sisdr"), train, valid, scheduler, config=conf,
                              on_nonfinite=conf["training"]["on_nonfinite"])
    trainer = build_trainer(conf, exp_dir, max_epochs=-1, max_time=timedelta(minutes=conf["report"]["peer_minutes"]))
    if trainer.is_global_zero:
        config.dump(conf, exp_dir / "conf.yml")
    start = time.monotonic()
    trainer.fit(system)
    seconds = time.monotonic() - start
    model_path = exp_dir / "peer_model.pth"
    if trainer.is_global_zero:
        package = dict(peer=kind, options=options, state_dict=peer.state_dict(),
                       training=dict(seconds=seconds, epochs=trainer.current_epoch, global_step=trainer.global_step,
                                     parameters=sum(p.numel() for p in peer.parameters())))
        save_package(package, model_path)
        print(f"peer {name} ({kind}): {seconds:.0f} s, {trainer.global_step} steps, {trainer.current_epoch} "
              f"epochs: {model_path}")
    score_and_save_examples(peer, conf, exp_dir, model_path)
