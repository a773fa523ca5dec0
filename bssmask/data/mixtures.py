"""Lists of mixtures on disk: LibriMix-style CSV files or ``s1/``, ``s2/`` folders.

A mixture is a ``(mixture_id, [source paths])`` pair; the sources are mixed
by the caller, or the mixture file a CSV lists (:func:`mixture_files`) is
used. Every path is checked before anything is read, so a bad list fails at
once with a one-line :class:`MixtureListError` naming the file.
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


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    """The header and rows of a CSV file."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            return reader.fieldnames or [], list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MixtureListError(f"{path}: cannot read as CSV ({err})") from None


def _listed(csv_path: Path, value: str) -> Path:
    """A path listed in a CSV: absolute, or relative to the CSV's folder."""
    return Path(value) if Path(value).is_absolute() else csv_path.parent / value


def read_csv(path: Path) -> list[tuple[str, list[Path]]]:
    """Mixtures of a LibriMix CSV (``mixture_ID``, ``source_1_path``, ``source_2_path``, ...).

    Relative source paths are taken relative to the CSV's folder.
    """
    header, rows = _read_rows(path)
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
        mixtures.append((row["mixture_ID"], [_listed(path, row[c]) for c in sources]))
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


def mixture_files(path: str | Path) -> dict[str, Path]:
    """The mixture file of each mixture a LibriMix CSV lists (``mixture_path``), by ``mixture_ID``.

    Empty for a folder and for a CSV without a ``mixture_path`` column.
    Relative paths are taken relative to the CSV's folder; every file must exist.

    Raises:
        MixtureListError: a listed mixture file that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    header, rows = _read_rows(path)
    if "mixture_path" not in header:
        return {}
    files = {row["mixture_ID"]: _listed(path, row["mixture_path"]) for row in rows}
    for mixture in files.values():
        if not mixture.is_file():
            raise MixtureListError(f"{mixture}: listed in {path} as a mixture_path but no such file")
    return files
