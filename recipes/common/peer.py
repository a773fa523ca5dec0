"""Report baseline: train an Asteroid peer of ``report.peers`` for ``report.peer_minutes`` and score it like a head.

The peer (:mod:`bssmask.peers`) trains on the config's data with the
config's optimizer, learning-rate schedule, batch size and seed, the
``sisdr`` loss with PIT, for a wall-clock budget (Lightning's ``max_time``;
early stopping as configured); the weights at the end of the budget are
scored on the test sets as ``eval.py`` scores a head
(:func:`bssmask.experiment.training.train_and_score_peer`). Writes to
``<exp_dir>``: ``peer_model.pth`` (``{"peer", "options", "state_dict",
"training"}``), ``conf.yml``, ``checkpoints/``, ``logs/``, and
``eval/``, ``eval_unseen/``, ``eval_dev_unseen/``, ``eval_same/`` (``metrics.csv``,
``summary.json``; ``examples/`` as ``eval.py`` saves them, for the report's listening page).
"""

from __future__ import annotations

import argparse
import sys

from bssmask import recipe_config
from bssmask.errors import entry_point
from bssmask.experiment.training import train_and_score_peer


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="folder of the peer's run")
    parser.add_argument("--peer", required=True, help="a name of the config's report.peers")


@entry_point("peer.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    train_and_score_peer(conf, args.exp_dir, args.peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
