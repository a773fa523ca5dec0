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
from bssmask.checkpoint import CheckpointError, load_safe
from bssmask.errors import entry_point
from bssmask.io import save_model
from bssmask.recipe.build import build_system, build_trainer


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--resume", default="false", choices=("true", "false"),
                        help="continue from exp_dir/checkpoints/last.ckpt")


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


@entry_point("train.py")
def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    exp_dir = Path(args.exp_dir)
    last = exp_dir / "checkpoints" / "last.ckpt"
    config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    if args.resume == "true" and not last.is_file():
        raise FileNotFoundError(f"--resume true: {last} does not exist")
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    system = build_system(conf)
    if args.resume == "true":
        check_resumable(last, system)
    trainer = build_trainer(conf, exp_dir, resume=args.resume == "true")
    if trainer.is_global_zero:
        config.dump(conf, exp_dir / "conf.yml")
    trainer.fit(system, ckpt_path=last if args.resume == "true" else None, weights_only=True)
    if trainer.is_global_zero:
        path = export_best(system, trainer, conf, exp_dir)
        print(f"best model (val_loss {trainer.checkpoint_callback.best_model_score:.4f}): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
