"""Training a recipe config: a separator with its mask head (:func:`train`), a peer of the report
(:func:`train_and_score_peer`).

:func:`last_checkpoint` and :func:`check_resumable` (the one resume check) and
:func:`export_best` (the one best-model export) serve fine-tuning too
(:func:`bssmask.experiment.head_swap.finetune`).

Both trainings seed everything with ``training.seed``, build the run's objects with
:mod:`bssmask.experiment.build` and write to the experiment folder: the config
used (``conf.yml``), ``checkpoints/``, ``logs/`` and the model file. With
several devices they run as one process per device (Lightning's DDP);
process 0 writes the files.

Example (the recipes' ``train.py``, from ``recipes/asterisk2mix``)::

    conf = recipe_config.load("conf.yml", ["local/quick.yml"])
    train(conf, "exp/quick")                 # exp/quick/best_model.pth
    train(conf, "exp/quick", resume=True)    # continues from exp/quick/checkpoints/last.ckpt
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
from torch import nn

from .. import losses, recipe_config
from ..checkpoint import CheckpointError, load_safe
from ..model_files import save_model, save_package
from ..peers import build_peer
from .build import build_system, build_trainer, peer_options
from .evaluate import score_and_save_examples

__all__ = ["train", "train_and_score_peer", "last_checkpoint", "check_resumable", "export_best"]


def last_checkpoint(exp_dir: str | Path, option: str) -> Path:
    """``<exp_dir>/checkpoints/last.ckpt``, the checkpoint a run resumes from; ``FileNotFoundError`` naming ``option`` without it.

    Example:
        >>> import tempfile
        >>> last_checkpoint(tempfile.mkdtemp(), "--resume true")
        Traceback (most recent call last):
        ...
        FileNotFoundError: --resume true: .../checkpoints/last.ckpt does not exist
    """
    last = Path(exp_dir) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise FileNotFoundError(f"{option}: {last} does not exist")
    return last


def check_resumable(last: Path, system: pl.LightningModule, option: str) -> None:
    """Refuse a last checkpoint whose weights do not fit ``system`` (another model or n_src), naming ``option``."""
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
        raise CheckpointError(f"{option}: {last} holds another model than the config's ({what}); "
                              "resume with the config it was trained with, or train under another --tag")


def export_best(system: pl.LightningModule, trainer: pl.Trainer, path: str | Path, infos: dict,
                model: nn.Module | None = None) -> str:
    """Load the best checkpoint's weights into ``system`` and save the model to ``path``.

    Every process loads the weights (they go on scoring the model); the
    global-zero process writes ``path`` with :func:`bssmask.model_files.save_model`.

    Args:
        system: the fitted system.
        trainer: the Trainer that fitted it (its checkpoint callback knows the best checkpoint).
        path: the model file.
        infos: added to the file's ``"infos"``.
        model: the model to save (default ``system.model``), e.g. the separator a wrapper trained.

    Returns:
        The best checkpoint's path, ``""`` when there is none (the weights are then the last ones).
    """
    best = trainer.checkpoint_callback.best_model_path
    if best:
        system.load_state_dict(load_safe(best)["state_dict"])
    if trainer.is_global_zero:
        save_model(system.model if model is None else model, path, infos)
    return best


def train(conf: dict, exp_dir: str | Path, resume: bool = False) -> None:
    """Train the separator of ``conf`` in ``exp_dir`` and export its best weights as ``best_model.pth``.

    Writes ``conf.yml``, ``checkpoints/best.ckpt`` and ``last.ckpt``, ``logs/``
    and ``best_model.pth`` (``MaskSeparator.serialize()`` of the best
    checkpoint, :mod:`bssmask.model_files`). ``resume`` continues from
    ``checkpoints/last.ckpt``; the epochs it trains are those an
    uninterrupted run of the same seed trains (:mod:`bssmask.data.epochs`).

    Raises:
        ConfigError: a section of the config is missing.
        FileNotFoundError: ``resume`` without a last checkpoint.
        CheckpointError: the last checkpoint holds another model than the config's.
        RunError: the training loss became non-finite (``training.on_nonfinite``).
    """
    exp_dir = Path(exp_dir)
    recipe_config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    last = last_checkpoint(exp_dir, "--resume true") if resume else None
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    system = build_system(conf)
    if last:
        check_resumable(last, system, "--resume true")
    trainer = build_trainer(conf, exp_dir, resume=resume)
    if trainer.is_global_zero:
        recipe_config.dump(conf, exp_dir / "conf.yml")
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
    (:func:`bssmask.experiment.evaluate.score_and_save_examples`).

    Raises:
        ConfigError: a section of the config is missing, or ``name`` is not a peer of ``report.peers``.
    """
    exp_dir = Path(exp_dir)
    recipe_config.require(conf, "data", "model", "optim", "training", "trainer", "report", "eval")
    kind, options = peer_options(conf, name)
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    peer = build_peer(kind, conf["data"]["n_src"], conf["data"]["sample_rate"], **options)
    system = build_system(conf, model=peer, loss=losses.get("sisdr"))
    trainer = build_trainer(conf, exp_dir, max_epochs=-1, max_time=timedelta(minutes=conf["report"]["peer_minutes"]))
    if trainer.is_global_zero:
        recipe_config.dump(conf, exp_dir / "conf.yml")
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
