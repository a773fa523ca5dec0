"""Running the Asterisk2Mix recipe from tests: a private copy of the recipe folder and its scripts."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "asterisk2mix"
QUICK = yaml.safe_load((RECIPE / "local" / "quick.yml").read_text())


def copy_recipe(parent: Path) -> Path:
    """A copy of the recipe folder under ``parent`` (without its ``data/`` and ``exp/``)."""
    dest = parent / "asterisk2mix"
    shutil.copytree(RECIPE, dest, ignore=shutil.ignore_patterns("exp", "data", "__pycache__"))
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
