"""Fine-tune a pretrained separator with another mask head, on the data of a recipe config.

A user holding a trained separator (a recipe's ``best_model.pth``, or an
Asteroid ``DCUNet``, ``DCCRNet``, ``DPRNNTasNet``... saved with
``serialize()``) swaps what it predicts and trains on:

1. :func:`bssmask.io.load_model` loads it without executing code from
   the file, with its bssmask head if :func:`attach_head` gave it one; a hub
   id works only when the machine is online (one-line error otherwise);
2. :func:`bssmask.io.check_compatible` refuses a model whose sample rate or number of
   sources does not match the data;
3. :func:`swap_head` puts a head of another kind on it, keeping the encoder
   and masker weights (:meth:`MaskSeparator.with_head`, :func:`attach_head`);
4. :func:`finetune` scores the test set before, trains with the recipe's
   Trainer (:func:`bssmask.recipe.build.build_trainer`: devices, DDP, resume)
   while :class:`~bssmask.engine.callbacks.FreezeParts` holds the encoder
   and/or masker still, then scores the test set after. Asteroid models
   other than ``MaskSeparator`` train in a :class:`~bssmask.peers.PeerSeparator`
   (float32, time-domain loss).

Example:
    >>> from bssmask.models import MaskSeparator
    >>> model = swap_head(MaskSeparator(mask="irm", masker="blstm"), "cirm", bound="tanh")
    >>> model.mask, model.head.bound_type
    ('cirm', 'tanh')
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from torch import nn

from .. import losses, tables
from ..engine.callbacks import FreezeParts, trainable_parts
from ..io import check_compatible, load_model
from ..models import MaskSeparator, attach_head
from ..names import choose
from ..peers import PeerSeparator
from .build import build_system, build_trainer
from .checkpoints import check_resumable, export_best, last_checkpoint
from .evaluate import predict_rows, summarize

#: What ``freeze`` may hold still: the encoder, the encoder and the masker, nothing.
FREEZE_PARTS = ("encoder", "masker", "none")

__all__ = ["FREEZE_PARTS", "finetune", "swap_head"]


def swap_head(model: nn.Module, mask: str, **options) -> nn.Module:
    """The model with a head of kind ``mask``, encoder and masker weights kept (a bssmask head is replaced)."""
    if isinstance(model, MaskSeparator):
        return model.with_head(mask, **options)
    return attach_head(model, mask, **options)


def finetune(pretrained, conf: dict, exp_dir, mask: str, mask_options: dict | None = None, loss: str = "default",
             freeze: str = "masker", freeze_epochs: int | None = 1, resume: bool = False, callbacks=()) -> dict:
    """Swap the head of a pretrained separator, fine-tune it and score the test set before and after.

    Args:
        pretrained: a file, bundled model or hub id (online) for :func:`bssmask.io.load_model`, or a model.
        conf: a recipe config (:mod:`bssmask.config`): data, optim, training, trainer.
        exp_dir: output folder: ``checkpoints/``, ``logs/``, ``finetuned_model.pth``,
            ``finetune/metrics_{pretrained,swapped,finetuned}.csv`` and ``finetune/summary.json``.
        mask, mask_options: the new head (:func:`swap_head`).
        loss: a :mod:`bssmask.losses` name or ``"default"`` (the kind's default;
            Asteroid models other than ``MaskSeparator`` train with ``sisdr``).
        freeze: ``"encoder"``, ``"masker"`` (encoder and masker) or ``"none"``.
        freeze_epochs: epochs before the frozen parts are released; None keeps them frozen.
        resume: continue from ``exp_dir/checkpoints/last.ckpt``.
        callbacks: extra Lightning callbacks.

    Returns:
        The summary written to ``finetune/summary.json``: test means of the
        pretrained model (its own head), of the swapped model before
        fine-tuning and of the fine-tuned model.
    """
    choose("freeze", freeze, FREEZE_PARTS)
    exp_dir = Path(exp_dir)
    source = str(pretrained) if isinstance(pretrained, (str, os.PathLike)) else type(pretrained).__name__
    model = load_model(pretrained) if isinstance(pretrained, (str, os.PathLike)) else pretrained
    check_compatible(model, conf["data"]["sample_rate"], conf["data"]["n_src"], source)
    last = last_checkpoint(exp_dir, "resume") if resume else None

    swapped = swap_head(copy.deepcopy(model), mask, **dict(mask_options or {}))
    parts = {"encoder": ("encoder",), "masker": ("encoder", "masker"), "none": ()}[freeze]
    frozen_ids = {id(p) for part in parts for p in trainable_parts(swapped)[part].parameters()}
    if parts and freeze_epochs != 0 and all(id(p) in frozen_ids for p in swapped.parameters()):
        raise ValueError(f"freeze: {freeze!r} leaves nothing to train (the new {mask!r} head has no parameters)")
    if loss == "default":
        loss = losses.default_for(swapped) if isinstance(swapped, MaskSeparator) else "sisdr"
    if not isinstance(swapped, MaskSeparator) and loss != "sisdr":
        raise ValueError(f"loss: {type(model).__name__} fine-tunes with the time-domain loss 'sisdr', not {loss!r}")
    criterion = losses.get(loss, swapped if isinstance(swapped, MaskSeparator) else None)

    trained = swapped if isinstance(swapped, MaskSeparator) else PeerSeparator(swapped, swapped.sample_rate)

    results = {"pretrained": predict_rows(model, conf, exp_dir), "swapped": predict_rows(swapped, conf, exp_dir)}
    model = swapped
    system = build_system(conf, model=trained, loss=criterion)
    if last:
        check_resumable(last, system, "resume")
    trainer = build_trainer(conf, exp_dir, extra_callbacks=[FreezeParts(parts, freeze_epochs), *callbacks],
                            resume=resume)
    trainer.fit(system, ckpt_path=last, weights_only=True)
    best = export_best(system, trainer, exp_dir / "finetuned_model.pth",
                       {"finetune": {"pretrained": source, "mask": mask, "loss": loss, "freeze": freeze}}, model=model)
    results["finetuned"] = predict_rows(model, conf, exp_dir)

    summary = {
        "pretrained": source, "mask": mask, "mask_options": dict(mask_options or {}), "loss": loss,
        "freeze": freeze, "freeze_epochs": freeze_epochs, "checkpoint": best or None,
        **{name: {k: v for k, v in summarize(rows, conf, source).items() if k not in ("config", "model")}
           for name, rows in results.items()},
        "config": conf,
    }
    if trainer.is_global_zero:
        out = exp_dir / "finetune"
        for name, rows in results.items():
            tables.write_text(out / f"metrics_{name}.csv", tables.to_csv(rows, list(rows[0]) if rows else []))
        tables.write_text(out / "summary.json", tables.to_json(summary))
    return summary
