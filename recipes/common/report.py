"""Stage 3: the trained ablation: each head of ``report.heads``, trained and evaluated with everything else equal,
next to Asteroid's own separators (``report.peers``).

Writes ``<exp_dir>/report/report.{md,csv,json,png}`` and the listening page
``<exp_dir>/report/index.html``, and prints the table: what it holds, where
each run trains and how runs share the CPU is :mod:`bssmask.experiment.report`.
"""

from __future__ import annotations

import argparse
import sys

from bssmask import recipe_config
from bssmask.errors import entry_point
from bssmask.experiment.report import report


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder of stages 1 and 2 (exp/<tag>)")


@entry_point("report.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    print(report(conf, args.exp_dir)["md"].read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
