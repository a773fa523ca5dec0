"""The documentation runs as written: every Python block of its Markdown files, and its relative links.

The files are :data:`DOCS`: the top-level README, each recipe's README and
``docs/*.md``. Blocks run in an empty folder, except those of the sections in
:data:`IN_RECIPE`, which their file says run in ``recipes/asterisk2mix/``
after a quick irm run: they run in a copy of the recipe holding the quick
corpus and an irm model at ``exp/quick/best_model.pth``.
"""

import re
import shutil
from pathlib import Path

import pytest

from recipe_helpers import copy_recipe

ROOT = Path(__file__).resolve().parents[1]

#: The Markdown files whose Python blocks run and whose relative links must resolve.
DOCS = [ROOT / "README.md", *sorted(ROOT.glob("recipes/*/README.md")), *sorted(ROOT.glob("docs/*.md"))]

#: Sections, as ``(file, heading)``, whose blocks run in the recipe folder after
#: ``./run.sh --quick true --mask irm ... --stop_stage 1``.
IN_RECIPE = {("recipes/asterisk2mix/README.md", "Fine-tune a pretrained separator with another head")}


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def python_blocks(path: Path) -> list[tuple[str, str, int, str]]:
    """``(file, section heading, first line number, code)`` of each Python block of a Markdown file."""
    blocks, heading, code, start = [], "", None, 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if code is None and re.match(r"#{2,3} ", line):
            heading = line.lstrip("#").strip()
        elif code is None and line.strip() == "```python":
            code, start = [], number + 1
        elif code is not None and line.strip() == "```":
            blocks.append((_name(path), heading, start, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
    return blocks


BLOCKS = [block for path in DOCS for block in python_blocks(path)]
STANDALONE = [b for b in BLOCKS if b[:2] not in IN_RECIPE]
RECIPE = [b for b in BLOCKS if b[:2] in IN_RECIPE]


def _id(block: tuple[str, str, int, str]) -> str:
    return f"{block[0]}:{block[2]}"


def _run(name: str, heading: str, line: int, code: str) -> None:
    exec(compile(code, f"{name}:{line} ({heading})", "exec"), {"__name__": "__readme__"})


def test_the_docs_have_python_blocks_in_and_out_of_the_recipe():
    sections = {block[:2] for block in BLOCKS}
    assert IN_RECIPE <= sections
    assert len([b for b in STANDALONE if b[0] == "README.md"]) >= 3


@pytest.mark.parametrize("name,heading,line,code", STANDALONE, ids=[_id(b) for b in STANDALONE])
def test_standalone_block_runs(name, heading, line, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _run(name, heading, line, code)


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
@pytest.mark.parametrize("name,heading,line,code", RECIPE, ids=[_id(b) for b in RECIPE])
def test_recipe_block_runs(name, heading, line, code, irm_recipe, monkeypatch, capsys):
    monkeypatch.chdir(irm_recipe)
    _run(name, heading, line, code)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("path", DOCS, ids=[_name(p) for p in DOCS])
def test_relative_links_resolve(path):
    """Each relative link names an existing file, and its ``#anchor`` a heading of that file."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, f"{_name(path)}: broken links {broken}"


def test_layout_table_matches_the_tree():
    """Every path of the README's Layout table exists, and every Markdown file it documents is listed."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    paths = {p for row in re.findall(r"^\| (.+?) \|", table, flags=re.M) for p in re.findall(r"`([^`]+)`", row)}
    assert paths and not [p for p in paths if not (ROOT / p).exists()]
    assert {_name(p) for p in DOCS} - {"README.md"} <= paths


def test_readme_and_modules_stay_short():
    """The README is a guide (at most 450 lines) and no module of the package passes 400 lines."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 450
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "bssmask").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
