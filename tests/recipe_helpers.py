"""Running the Asterisk2Mix recipe from tests: a private copy of the recipe folder, the shared scripts beside it."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bssmask.data.librimix import split_csv

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "asterisk2mix"
#: The scripts that every recipe runs (``recipes/common``).
COMMON = RECIPE.parent / "common"
QUICK = yaml.safe_load((RECIPE / "local" / "quick.yml").read_text())


def copy_recipe(parent: Path) -> Path:
    """A copy of the recipe folder under ``parent`` (without its ``data/`` and ``exp/``), with ``common/`` beside it."""
    dest = parent / "asterisk2mix"
    shutil.copytree(RECIPE, dest, ignore=shutil.ignore_patterns("exp", "data", "__pycache__"))
    shutil.copytree(COMMON, parent / "common", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run(cwd, *argv, expect: int = 0) -> subprocess.CompletedProcess:
    """Run a recipe command with this interpreter as ``$PYTHON``; assert its exit status."""
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == expect, f"{' '.join(map(str, argv))} exited {proc.returncode}:\n" \
                                      f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def first_mixtures(split_dir, n: int, dest) -> Path:
    """Write the header and first ``n`` rows of a split folder's ``*mix_clean.csv`` to the file ``dest``."""
    lines = split_csv(split_dir).read_text().splitlines(keepends=True)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(lines[: n + 1]))
    return dest


def tiny_flags(n_train: int, n_dev: int, n_test: int) -> list[str]:
    """Config flags of a tiny corpus of 1 s mixtures in ``data/tiny`` (built by :func:`build_tiny`);
    its held-out-voice and same-voice test sets have ``n_test`` mixtures each."""
    return ["--n_train", str(n_train), "--n_dev", str(n_dev), "--n_test", str(n_test), "--mix_length", "1.0",
            "--n_test_unseen", str(n_test), "--n_dev_unseen", str(n_test), "--n_test_same", str(n_test),
            "--train_dir", "data/tiny/train", "--valid_dir", "data/tiny/dev", "--test_dir", "data/tiny/test",
            "--test_unseen_dir", "data/tiny/test_unseen", "--dev_unseen_dir", "data/tiny/dev_unseen",
            "--test_same_dir", "data/tiny/test_same"]


def build_tiny(recipe: Path, flags: list[str]) -> None:
    """Run the data stage's script in ``recipe`` for the tiny corpus of ``flags`` (quick config)."""
    run(recipe, sys.executable, "local/prepare_data.py", "--conf", "conf.yml", "--conf", "local/quick.yml",
        "--storage_dir", "data/tiny", *flags)
