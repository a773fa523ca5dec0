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
from ..io import save_package
from ..peers import build_peer
from .build import build_system, build_trainer, peer_options
from .checkpoints import check_resumable, export_best, last_checkpoint
from .evaluate import score_and_save_examples

__all__ = ["train", "train_and_score_peer"]


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
    config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    last = last_checkpoint(exp_dir, "--resume true") if resume else None
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    system = build_system(conf)
    if last:
        check_resumable(last, system, "--resume true")
    trainer = build_trainer(conf, exp_dir, resume=resume)
    if trainer.is_global_zero:
        config.dump(conf, exp_dir / "conf.yml")
    trainer.fit(system, ckpt_path=last, weights_only=True)
    if trainer.is_global_zero:
        best = trainer.checkpoint_callback
        training = dict(config=conf, checkpoint=str(best.best_model_path), epochs=trainer.current_epoch,
                        global_step=trainer.global_step, best_val_loss=float(best.best_model_score))
        path = exp_dir / "best_model.pth"
        export_best(system, trainer, path, {"training": training})
        print(f"best model (val_loss {best.best_model_score:.4f}): {path}")


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
    system = build_system(conf, model=peer, loss=losses.get("sisdr"))
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
