"""Stage 1: train the separator of the config and export its best weights.

Writes to ``--exp_dir``: ``conf.yml`` (the config used), ``checkpoints/best.ckpt``
and ``last.ckpt``, ``logs/`` and ``best_model.pth`` (``MaskSeparator.serialize()``
of the best checkpoint, loadable with ``MaskSeparator.from_pretrained``, :mod:`bssmask.model_files`).
Every config key is a flag (``--help`` lists them); ``--accelerator``,
``--devices``, ``--num_nodes`` and ``--strategy`` go to the Trainer, so
``--accelerator cpu --devices 2`` trains with two DDP processes.

``--resume true`` continues from ``checkpoints/last.ckpt`` (after a crash or
a kill, or with a larger ``--epochs``); the epochs it trains are those an
uninterrupted run of the same seed trains (see :mod:`bssmask.data.epochs`).
The training is :func:`bssmask.experiment.training.train`.

A bad config, data file or checkpoint ends with one line naming it and exit
code 2; a non-finite training loss stops the run with exit code 1
(:mod:`bssmask.errors`).
"""

from __future__ import annotations

import argparse
import sys

from bssmask import recipe_config
from bssmask.errors import entry_point
from bssmask.experiment.training import train


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--resume", default="false", choices=("true", "false"),
                        help="continue from exp_dir/checkpoints/last.ckpt")


@entry_point("train.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    train(conf, args.exp_dir, resume=args.resume == "true")
    return 0


if __name__ == "__main__":
    sys.exit(main())
