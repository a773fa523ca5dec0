"""``make test-compat``: the default suite on the oldest and the newest stack of setup.cfg's ranges.

Each stack (``constraints/<stack>.txt``) gets its own environment in
``.venv-compat/<stack>``, with a non-editable install of the repository
(``pip install '.[test]'``, what a user gets), and runs the suite with that
environment's ``pytest``, so the tests import the installed package. Prints a
versions x result table (also written to ``results/compat.md``) and exits 1
if a stack fails.

Usage::

    python tests/compat.py                  # both stacks
    python tests/compat.py --stacks newest  # one
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The stacks tested, each a constraints file.
STACKS = ("oldest", "newest")
#: The distributions whose versions the table shows.
PACKAGES = ("torch", "torchaudio", "pytorch-lightning", "asteroid", "asteroid-filterbanks", "torchmetrics",
            "numpy", "setuptools")
VERSIONS = ("import importlib.metadata as m, json, sys; "
            f"print(json.dumps({{'python': sys.version.split()[0], **{{p: m.version(p) for p in {PACKAGES!r}}}}}))")


def build(stack: str) -> Path:
    """A fresh environment with the repository installed under ``constraints/<stack>.txt``; its python."""
    env = ROOT / ".venv-compat" / stack
    venv.create(env, clear=True, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints" / f"{stack}.txt",
                    f"{ROOT}[test]"], check=True)
    return python


def run_suite(python: Path) -> tuple[str, float]:
    """The suite with this environment's pytest: its closing line and the minutes it took."""
    start = time.monotonic()
    done = subprocess.run([python.parent / "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=ROOT,
                          capture_output=True, text=True)
    minutes = (time.monotonic() - start) / 60
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    summary = lines[-1].strip("= ") if lines else f"exit code {done.returncode}"
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
    return summary, minutes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", default=",".join(STACKS), help="comma-separated, of: " + ", ".join(STACKS))
    stacks = parser.parse_args(argv).stacks.split(",")
    rows, failed = [], False
    for stack in stacks:
        python = build(stack)
        versions = json.loads(subprocess.run([python, "-c", VERSIONS], capture_output=True, text=True,
                                             check=True).stdout)
        summary, minutes = run_suite(python)
        failed |= "failed" in summary or "error" in summary or summary.startswith("exit code")
        rows.append([stack, *versions.values(), summary, f"{minutes:.1f}"])
    header = ["stack", "python", *PACKAGES, "suite", "minutes"]
    table = "\n".join("| " + " | ".join(row) + " |" for row in
                      [header, ["---"] * len(header), *rows])
    print(table)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "compat.md").write_text(table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
