"""The checkpoints of a training run: the one resume check and the one best-model export.

Training (the recipe's ``train.py``) and fine-tuning
(:func:`bssmask.recipe.finetune.finetune`) both continue from
``<exp_dir>/checkpoints/last.ckpt`` (:func:`last_checkpoint`, checked by
:func:`check_resumable` to hold the config's model) and, after fitting, reload
the weights of the best checkpoint and save the model file
(:func:`export_best`).

Example:
    >>> import tempfile
    >>> last_checkpoint(tempfile.mkdtemp(), "--resume true")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --resume true: .../checkpoints/last.ckpt does not exist
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from torch import nn

from ..checkpoint import CheckpointError, load_safe
from ..io import save_model

__all__ = ["check_resumable", "export_best", "last_checkpoint"]


def last_checkpoint(exp_dir: str | Path, option: str) -> Path:
    """``<exp_dir>/checkpoints/last.ckpt``, the checkpoint a run resumes from; ``FileNotFoundError`` naming ``option`` without it."""
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
    global-zero process writes ``path`` with :func:`bssmask.io.save_model`.

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
