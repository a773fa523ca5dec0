"""Report baseline: train an Asteroid peer of ``report.peers`` for ``report.peer_minutes`` and score it like a head.

The peer (:mod:`bssmask.peers`) trains on the config's data with the
config's optimizer, learning-rate schedule, batch size and seed, the
``sisdr`` loss with PIT, for a wall-clock budget (Lightning's ``max_time``;
early stopping as configured); the weights at the end of the budget are
scored on the test sets as ``eval.py`` scores a head. Writes to
``<exp_dir>``: ``peer_model.pth`` (``{"peer", "options", "state_dict",
"training"}``), ``conf.yml``, ``checkpoints/``, ``logs/``, and
``eval/``, ``eval_unseen/``, ``eval_dev_unseen/``, ``eval_same/`` (``metrics.csv``,
``summary.json``; ``examples/`` as ``eval.py`` saves them, for the report's listening page).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import bssmask  # noqa: F401  (before Lightning: bssmask.compat quiets the warning its import prints)
import pytorch_lightning as pl

from bssmask import config, losses
from bssmask.errors import entry_point
from bssmask.io import save_package
from bssmask.peers import build_peer
from bssmask.recipe.build import build_system, build_trainer, peer_options
from bssmask.recipe.evaluate import save_examples, score_sets


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="folder of the peer's run")
    parser.add_argument("--peer", required=True, help="a name of the config's report.peers")


@entry_point("peer.py")
def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    exp_dir = Path(args.exp_dir)
    config.require(conf, "data", "model", "optim", "training", "trainer", "report", "eval")
    kind, options = peer_options(conf, args.peer)
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
        print(f"peer {args.peer} ({kind}): {seconds:.0f} s, {trainer.global_step} steps, {trainer.current_epoch} "
              f"epochs: {model_path}")
    score_sets(peer, conf, exp_dir, model_path)
    if trainer.is_global_zero:
        save_examples(peer.eval(), conf, exp_dir, conf["eval"]["n_save_ex"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
