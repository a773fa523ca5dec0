"""Stage 1: train the separator of the config and export its best weights.

Writes to ``--exp_dir``: ``conf.yml`` (the config used), ``checkpoints/best.ckpt``
and ``last.ckpt``, ``logs/`` and ``best_model.pth`` (``MaskSeparator.serialize()``
of the best checkpoint, loadable with ``MaskSeparator.from_pretrained``, :mod:`bssmask.io`).
Every config key is a flag (``--help`` lists them); ``--accelerator``,
``--devices``, ``--num_nodes`` and ``--strategy`` go to the Trainer, so
``--accelerator cpu --devices 2`` trains with two DDP processes.

``--resume true`` continues from ``checkpoints/last.ckpt`` (after a crash or
a kill, or with a larger ``--epochs``); the epochs it trains are those an
uninterrupted run of the same seed trains (see :mod:`bssmask.data.epochs`).

A bad config, data file or checkpoint ends with one line naming it and exit
code 2; a non-finite training loss stops the run with exit code 1
(:mod:`bssmask.errors`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bssmask  # noqa: F401  (before Lightning: bssmask.compat quiets the warning its import prints)
import pytorch_lightning as pl

from bssmask import config
from bssmask.errors import entry_point
from bssmask.recipe.build import build_system, build_trainer
from bssmask.recipe.checkpoints import check_resumable, export_best, last_checkpoint


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--resume", default="false", choices=("true", "false"),
                        help="continue from exp_dir/checkpoints/last.ckpt")


@entry_point("train.py")
def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    exp_dir = Path(args.exp_dir)
    config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    last = last_checkpoint(exp_dir, "--resume true") if args.resume == "true" else None
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    system = build_system(conf)
    if last:
        check_resumable(last, system, "--resume true")
    trainer = build_trainer(conf, exp_dir, resume=args.resume == "true")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
