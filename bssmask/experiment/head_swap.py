"""Fine-tune a pretrained separator with another mask head, on the data of a recipe config.

A user holding a trained separator (a recipe's ``best_model.pth``, or an
Asteroid ``DCUNet``, ``DCCRNet``, ``DPRNNTasNet``... saved with
``serialize()``) swaps what it predicts and trains on:

1. :func:`bssmask.model_files.load_model` loads it without executing code from
   the file, with its bssmask head if :func:`~bssmask.separator.attach_head`
   gave it one; a hub id works only when the machine is online (one-line
   error otherwise);
2. :func:`bssmask.model_files.check_compatible` refuses a model whose sample rate or number of
   sources does not match the data;
3. the separator's ``with_head`` (:class:`bssmask.separator.Separator`) puts
   a head of another kind on a copy, keeping the encoder and masker weights;
   its ``criterion`` is the loss (Asteroid models other than ``MaskSeparator``
   train with the time-domain loss, in float32);
4. :func:`finetune` scores the test set before, trains with the recipe's
   Trainer (:func:`bssmask.experiment.build.build_trainer`: devices, DDP, resume)
   while :class:`~bssmask.engine.callbacks.FreezeParts` holds the encoder
   and/or masker still, then scores the test set after.

:class:`FinetuneOptions` holds what changes: the new head, the loss, what is
frozen and for how long, whether to resume.

Example:
    >>> options = FinetuneOptions(mask="cirm", mask_options={"bound": "tanh"}, freeze="masker")
    >>> options.frozen_parts, options.loss
    (('encoder', 'masker'), 'default')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import tables
from ..engine.callbacks import FreezeParts
from ..model_files import check_compatible, load_model
from ..choices import choose
from ..separator import Separator
from .build import build_system, build_trainer
from .training import check_resumable, export_best, last_checkpoint
from .evaluate import predict_rows, summarize

#: What ``freeze`` may hold still: the encoder, the encoder and the masker, nothing.
FREEZE_PARTS = ("encoder", "masker", "none")

__all__ = ["FREEZE_PARTS", "FinetuneOptions", "finetune"]


@dataclass
class FinetuneOptions:
    """The new head of a fine-tuning, and how it trains.

    Attributes:
        mask, mask_options: the new head (the separator's ``with_head``).
        loss: a :mod:`bssmask.losses` name or ``"default"`` (the separator's
            ``criterion``: the kind's default; Asteroid models other than
            ``MaskSeparator`` train with ``sisdr``).
        freeze: ``"encoder"``, ``"masker"`` (encoder and masker) or ``"none"``.
        freeze_epochs: epochs before the frozen parts are released; None keeps them frozen.
        resume: continue from ``exp_dir/checkpoints/last.ckpt``.

    Raises:
        ValueError: ``freeze`` not one of :data:`FREEZE_PARTS`.
    """

    mask: str
    mask_options: dict = field(default_factory=dict)
    loss: str = "default"
    freeze: str = "masker"
    freeze_epochs: int | None = 1
    resume: bool = False

    def __post_init__(self):
        choose("freeze", self.freeze, FREEZE_PARTS)
        self.mask_options = dict(self.mask_options or {})

    @property
    def frozen_parts(self) -> tuple[str, ...]:
        """The parts of the separator's ``trainable_parts()`` that :class:`FreezeParts` holds still."""
        return {"encoder": ("encoder",), "masker": ("encoder", "masker"), "none": ()}[self.freeze]


def finetune(pretrained, conf: dict, exp_dir, options: FinetuneOptions, callbacks=()) -> dict:
    """Swap the head of a pretrained separator, fine-tune it and score the test set before and after.

    Args:
        pretrained: a file, bundled model or hub id (online) for :func:`bssmask.model_files.load_model`,
            or a separator (:class:`bssmask.separator.Separator`).
        conf: a recipe config (:mod:`bssmask.recipe_config`): data, optim, training, trainer.
        exp_dir: output folder: ``checkpoints/``, ``logs/``, ``finetuned_model.pth``,
            ``finetune/metrics_{pretrained,swapped,finetuned}.csv`` and ``finetune/summary.json``.
        options: the new head, its loss, what is frozen, whether to resume.
        callbacks: extra Lightning callbacks.

    Returns:
        The summary written to ``finetune/summary.json``: test means of the
        pretrained model (its own head), of the swapped model before
        fine-tuning and of the fine-tuned model.
    """
    exp_dir = Path(exp_dir)
    source, model = _load_pretrained(pretrained, conf)
    last = last_checkpoint(exp_dir, "resume") if options.resume else None

    swapped = model.with_head(options.mask, **options.mask_options)
    _check_something_trains(swapped, options)
    criterion = swapped.criterion(options.loss)
    results = {"pretrained": predict_rows(model, conf, exp_dir), "swapped": predict_rows(swapped, conf, exp_dir)}
    infos = {"finetune": {"pretrained": source, "mask": options.mask, "loss": criterion.name, "freeze": options.freeze}}
    best, is_global_zero = _train(swapped, criterion, conf, exp_dir, options, callbacks, last, infos)
    results["finetuned"] = predict_rows(swapped, conf, exp_dir)

    summary = {
        "pretrained": source, "mask": options.mask, "mask_options": dict(options.mask_options),
        "loss": criterion.name, "freeze": options.freeze, "freeze_epochs": options.freeze_epochs,
        "checkpoint": best or None,
        **{name: {k: v for k, v in summarize(rows, conf, source).items() if k not in ("config", "model")}
           for name, rows in results.items()},
        "config": conf,
    }
    if is_global_zero:
        _write(results, summary, exp_dir)
    return summary


def _load_pretrained(pretrained, conf: dict) -> tuple[str, Separator]:
    """How to name the pretrained separator, and the separator, refused unless it fits ``conf["data"]``."""
    if isinstance(pretrained, (str, os.PathLike)):
        source, model = str(pretrained), load_model(pretrained)
    else:
        source, model = type(pretrained).__name__, pretrained
    check_compatible(model, conf["data"]["sample_rate"], conf["data"]["n_src"], source)
    return source, model


def _check_something_trains(model: Separator, options: FinetuneOptions) -> None:
    """Refuse a freeze that holds every parameter still (a new head without parameters)."""
    parts = options.frozen_parts
    frozen_ids = {id(p) for part in parts for p in model.trainable_parts()[part].parameters()}
    if parts and options.freeze_epochs != 0 and all(id(p) in frozen_ids for p in model.parameters()):
        raise ValueError(f"freeze: {options.freeze!r} leaves nothing to train "
                         f"(the new {options.mask!r} head has no parameters)")


def _train(model: Separator, criterion, conf: dict, exp_dir: Path, options: FinetuneOptions, callbacks,
           last: Path | None, infos: dict) -> tuple[str, bool]:
    """Fine-tune ``model`` in place with the recipe's Trainer (from ``last`` when resuming), load its best
    checkpoint's weights and export it to ``finetuned_model.pth`` with ``infos``.

    Returns:
        The best checkpoint's path (``""``: none) and whether this is process 0.
    """
    system = build_system(conf, model=model, loss=criterion)
    if last:
        check_resumable(last, system, "resume")
    freeze = FreezeParts(options.frozen_parts, options.freeze_epochs)
    trainer = build_trainer(conf, exp_dir, extra_callbacks=[freeze, *callbacks], resume=options.resume)
    trainer.fit(system, ckpt_path=last, weights_only=True)
    best = export_best(system, trainer, exp_dir / "finetuned_model.pth", infos)
    return best, trainer.is_global_zero


def _write(results: dict[str, list[dict]], summary: dict, exp_dir: Path) -> None:
    """Process 0's tables: ``finetune/metrics_*.csv`` and ``finetune/summary.json``."""
    out = exp_dir / "finetune"
    for name, rows in results.items():
        tables.write_text(out / f"metrics_{name}.csv", tables.to_csv(rows, list(rows[0]) if rows else []))
    tables.write_text(out / "summary.json", tables.to_json(summary))
