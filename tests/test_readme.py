"""Every Python block of the README runs as written.

Blocks run in an empty folder, except those of the sections in
:data:`IN_RECIPE`, which the README says run in ``recipes/asterisk2mix/``
after a quick irm run: they run in a copy of the recipe holding the quick
corpus and an irm model at ``exp/quick/best_model.pth``.
"""

import re
import shutil
from pathlib import Path

import pytest

from recipe_helpers import copy_recipe

README = Path(__file__).resolve().parents[1] / "README.md"

#: Sections whose blocks run in the recipe folder after ``./run.sh --quick true --mask irm ... --stop_stage 1``.
IN_RECIPE = {"Fine-tune a pretrained separator with another head"}


def python_blocks() -> list[tuple[str, int, str]]:
    """``(section heading, first line number, code)`` of each Python block of the README."""
    blocks, heading, code, start = [], "", None, 0
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if code is None and re.match(r"#{2,3} ", line):
            heading = line.lstrip("#").strip()
        elif code is None and line.strip() == "```python":
            code, start = [], number + 1
        elif code is not None and line.strip() == "```":
            blocks.append((heading, start, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
    return blocks


BLOCKS = python_blocks()


def _run(heading: str, line: int, code: str) -> None:
    exec(compile(code, f"README.md:{line} ({heading})", "exec"), {"__name__": "__readme__"})


def test_the_readme_has_python_blocks_in_and_out_of_the_recipe():
    headings = {heading for heading, _, _ in BLOCKS}
    assert len(BLOCKS) >= 4 and IN_RECIPE <= headings and headings - IN_RECIPE


@pytest.mark.parametrize("heading,line,code", [b for b in BLOCKS if b[0] not in IN_RECIPE],
                         ids=[f"line{b[1]}" for b in BLOCKS if b[0] not in IN_RECIPE])
def test_standalone_block_runs(heading, line, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _run(heading, line, code)


@pytest.fixture(scope="module")
def irm_recipe(quick_recipe, tmp_path_factory):
    """A recipe copy with the quick corpus and, as ``exp/quick/best_model.pth``, the quick run's irm model."""
    recipe, _ = quick_recipe
    copy = copy_recipe(tmp_path_factory.mktemp("readme"))
    (copy / "data").symlink_to(recipe / "data")
    (copy / "exp" / "quick").mkdir(parents=True)
    shutil.copyfile(recipe / "exp" / "quick" / "heads" / "irm" / "best_model.pth",
                    copy / "exp" / "quick" / "best_model.pth")
    return copy


@pytest.mark.voices
@pytest.mark.parametrize("heading,line,code", [b for b in BLOCKS if b[0] in IN_RECIPE],
                         ids=[f"line{b[1]}" for b in BLOCKS if b[0] in IN_RECIPE])
def test_recipe_block_runs(heading, line, code, irm_recipe, monkeypatch, capsys):
    monkeypatch.chdir(irm_recipe)
    _run(heading, line, code)
