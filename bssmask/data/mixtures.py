"""Lists of mixtures on disk: LibriMix-style CSV files or ``s1/``, ``s2/`` folders.

A mixture is a ``(mixture_id, [source paths])`` pair; the sources are mixed
by the caller. Every path is checked before anything is read, so a bad list
fails at once with a one-line :class:`MixtureListError` naming the file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path


class MixtureListError(ValueError):
    """A bad mixture list; the message names the file or folder."""


def _source_columns(header: list[str]) -> list[str]:
    cols = sorted(
        (c for c in header if re.fullmatch(r"source_\d+_path", c)),
        key=lambda c: int(c.split("_")[1]),
    )
    return cols


def read_csv(path: Path) -> list[tuple[str, list[Path]]]:
    """Mixtures of a LibriMix CSV (``mixture_ID``, ``source_1_path``, ``source_2_path``, ...).

    Relative source paths are taken relative to the CSV's folder.
    """
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MixtureListError(f"{path}: cannot read as CSV ({err})") from None
    sources = _source_columns(header)
    missing = [c for c in ("mixture_ID", "source_1_path", "source_2_path") if c not in header]
    if missing:
        raise MixtureListError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
        )
    if not rows:
        raise MixtureListError(f"{path}: no mixtures listed")
    mixtures = []
    for row in rows:
        paths = [Path(row[c]) if Path(row[c]).is_absolute() else path.parent / row[c] for c in sources]
        mixtures.append((row["mixture_ID"], paths))
    return mixtures


def read_folder(path: Path) -> list[tuple[str, list[Path]]]:
    """Mixtures of a folder with ``s1/``, ``s2/``, ... subfolders of same-named wav files."""
    dirs = sorted(
        (d for d in path.iterdir() if d.is_dir() and re.fullmatch(r"s\d+", d.name)),
        key=lambda d: int(d.name[1:]),
    )
    if len(dirs) < 2:
        raise MixtureListError(f"{path}: expected subfolders s1/, s2/ (...) of same-named wav files")
    names = sorted(p.name for p in dirs[0].glob("*.wav"))
    if not names:
        raise MixtureListError(f"{dirs[0]}: no wav files")
    return [(Path(n).stem, [d / n for d in dirs]) for n in names]


def list_mixtures(path: str | Path) -> list[tuple[str, list[Path]]]:
    """Mixtures listed by a LibriMix CSV or an ``s1/``, ``s2/`` folder; every source file must exist."""
    path = Path(path)
    if path.is_dir():
        mixtures = read_folder(path)
    elif path.is_file():
        mixtures = read_csv(path)
    else:
        raise MixtureListError(f"{path}: no such file or folder")
    for _, paths in mixtures:
        for source in paths:
            if not source.is_file():
                raise MixtureListError(f"{source}: listed in {path} but no such file")
    return mixtures
