"""Stage 0 of the LibriMix recipe: point the config's data folders at an existing LibriMix.

LibriMix cannot be downloaded by this recipe; generate it first (see
README.md). This copies each split's CSV files from
``<storage_dir>/Libri<n_src>Mix/wav<rate>k/<mode>/metadata`` into the
config's ``train_dir``, ``valid_dir`` and ``test_dir``, the folders that
``asteroid.data.LibriMix`` reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bssmask import recipe_config
from bssmask.data import corpus
from bssmask.errors import UserError, entry_point

HOW_TO = ("generate it with https://github.com/JorisCos/LibriMix "
          "(git clone, then ./generate_librimix.sh STORAGE_DIR) and pass --storage_dir STORAGE_DIR")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage_dir", required=True, help="folder holding Libri<n_src>Mix/")
    parser.add_argument("--mode", default="min", choices=("min", "max"), help="LibriMix mode (default min)")
    parser.add_argument("--train_set", default="train-360", choices=("train-360", "train-100"),
                        help="LibriMix training split (default train-360)")


@entry_point("prepare_data.py")
def main(argv=None) -> int:
    conf, args = recipe_config.parse_args(argv, __doc__.splitlines()[0], add_options)
    data = conf["data"]
    metadata = (Path(args.storage_dir) / f"Libri{data['n_src']}Mix" / f"wav{data['sample_rate'] // 1000}k"
                / args.mode / "metadata")
    if not metadata.is_dir():
        raise UserError(f"{metadata}: no LibriMix metadata; {HOW_TO}")
    corpus.local_metadata(metadata, {args.train_set: data["train_dir"], "dev": data["valid_dir"],
                                     "test": data["test_dir"]})
    print(f"LibriMix {metadata}: {args.train_set}, dev and test CSV files copied to "
          f"{data['train_dir']}, {data['valid_dir']}, {data['test_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
