"""Stage 2: score the trained separator on every mixture of each test set.

The test sets are the config's ``test_dir`` (written to ``<exp_dir>/eval/``),
``test_unseen_dir`` (held-out voices, ``<exp_dir>/eval_unseen/``) and
``dev_unseen_dir`` (the held-out validation voice that remedies are chosen on,
``<exp_dir>/eval_dev_unseen/``), ``test_same_dir`` (two utterances of one voice,
``<exp_dir>/eval_same/``);
an empty folder name skips that set. Every set's files are checked before
any is scored (:func:`bssmask.experiment.evaluate.score_sets`). Writes to ``<exp_dir>/eval/`` (the other folders hold
``metrics.csv`` and ``summary.json`` of the same shape):

- ``metrics.csv``: one row per test mixture: SDR, SI-SDR, SIR, SAR (dB),
  PESQ, STOI of the estimates (means over sources, estimates matched to
  sources by PIT on SI-SDR) and the same of the mixture (``input_*``);
- ``summary.json``: the means (``sdr``, ``si_sdr``, ``sir``, ``sar``,
  ``pesq``, ``stoi``), those of the mixture (``input_*``), the mean
  improvements (``*_imp``), the number of mixtures, the config and the model file;
- ``examples/<mixture_ID>/``: mixture, sources and estimates of the first
  ``n_save_ex`` test mixtures as wav files (also in ``eval_unseen/`` and ``eval_same/``,
  :func:`bssmask.experiment.evaluate.save_examples`), which the report's listening page plays;
- ``masks.png``: the first example's mixture spectrogram with its estimated
  and oracle masks.

With several devices (``--devices 2``) the test set is split across the
processes and the rows gathered, each mixture once; process 0 writes.
The scoring is :func:`bssmask.experiment.evaluate.evaluate`.
"""

from __future__ import annotations

import argparse
import sys

from bssmask import recipe_config
from bssmask.errors import entry_point
from bssmask.experiment.evaluate import evaluate


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--model", default=None, help="model file (default <exp_dir>/best_model.pth)")


@entry_point("eval.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    evaluate(conf, args.exp_dir, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
