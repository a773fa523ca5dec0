"""Fine-tune a pretrained separator with the head of the config, and score it before and after.

The new head is the config's ``mask`` and ``mask_options`` (``--mask cirm
--mask_options "{bound: tanh}"``), trained with its ``loss`` (``default``:
the kind's default loss) and the Trainer options of training (devices, DDP,
``--resume``). Writes to ``--exp_dir``: ``checkpoints/``, ``finetuned_model.pth``,
``finetune/metrics_{pretrained,swapped,finetuned}.csv`` and
``finetune/summary.json`` (test means of the pretrained model, of the model
with the new head before fine-tuning, and after).
"""

from __future__ import annotations

import argparse
import sys

import bssmask  # noqa: F401  (before Lightning: bssmask.compat quiets the warning its import prints)
import pytorch_lightning as pl

from bssmask import recipe_config
from bssmask.errors import entry_point
from bssmask.experiment import head_swap


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--pretrained", required=True,
                        help="serialize() file (a recipe's best_model.pth, an Asteroid model) or a hub id (online)")
    parser.add_argument("--freeze", default="masker", choices=head_swap.FREEZE_PARTS,
                        help="parts held still: encoder, masker (encoder and masker) or none")
    parser.add_argument("--freeze_epochs", default="1",
                        help="epochs before the frozen parts are released ('all': never)")
    parser.add_argument("--resume", default="false", choices=("true", "false"),
                        help="continue from exp_dir/checkpoints/last.ckpt")


@entry_point("finetune.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    recipe_config.require(conf, "data", "model", "loss", "optim", "training", "trainer")
    if args.freeze_epochs != "all" and not args.freeze_epochs.isdigit():
        raise ValueError(f"--freeze_epochs: expected a number of epochs or 'all', got {args.freeze_epochs!r}")
    pl.seed_everything(conf["training"]["seed"], workers=True, verbose=False)
    options = head_swap.FinetuneOptions(
        mask=conf["model"]["mask"], mask_options=conf["model"]["mask_options"], loss=conf["loss"]["loss"],
        freeze=args.freeze, freeze_epochs=None if args.freeze_epochs == "all" else int(args.freeze_epochs),
        resume=args.resume == "true",
    )
    summary = head_swap.finetune(args.pretrained, conf, args.exp_dir, options)
    for name in ("pretrained", "swapped", "finetuned"):
        print(f"{name:>10}: SI-SDR {summary[name]['si_sdr']:6.2f} dB (improvement {summary[name]['si_sdr_imp']:+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
