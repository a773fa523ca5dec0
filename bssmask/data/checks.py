"""Checks of a LibriMix-layout split before and while a recipe reads it.

- :func:`check_split`: the split's CSV (columns, listed files) and every
  listed file's header (readable audio, mono, sample rate, length equal to
  the CSV's ``length``), before training or evaluation starts.
- :class:`FiniteItems`: a dataset wrapper that refuses an item with NaN or
  infinite samples, naming the file, when it is read.

Both raise :class:`DataError`, whose one-line message names the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import soundfile as sf
import torch
from torch.utils.data import Dataset

__all__ = ["DataError", "check_split", "FiniteItems"]


class DataError(ValueError):
    """Bad data in a split; the one-line message names the file.

    Raised in a data loader worker, it reaches the main process with the
    worker's traceback in its message; it keeps only its own line.
    """

    def __init__(self, message: str):
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        lines = [line for line in str(message).splitlines() if line.startswith(marker)]
        super().__init__(lines[-1][len(marker):] if lines else message)


def split_csv(split_dir: str | Path, task: str = "sep_clean") -> Path:
    """The ``mixture_*_<task suffix>.csv`` of a split folder (``sep_clean``: ``*mix_clean.csv``)."""
    suffix = {"sep_clean": "mix_clean", "sep_noisy": "mix_both"}.get(task, task)
    found = sorted(Path(split_dir).glob(f"*{suffix}.csv"))
    if not found:
        raise DataError(f"{split_dir}: no *{suffix}.csv (run the data stage first, or check the folder)")
    return found[0]


def check_split(split_dir: str | Path, sample_rate: int, n_src: int, task: str = "sep_clean") -> Path:
    """Check a split folder's CSV and the header of every file it lists; return the CSV.

    Args:
        split_dir: folder with the split's ``mixture_*_mix_clean.csv``.
        sample_rate: rate every file must have (Hz).
        n_src: sources per mixture (``source_1_path`` ... columns).

    Raises:
        DataError: missing columns, no rows, a listed file that does not
            exist, is not readable audio, is not mono, has another sample
            rate, or whose length differs from the CSV's ``length``.
    """
    path = split_csv(split_dir, task)
    columns = ["mixture_ID", "mixture_path", *(f"source_{k + 1}_path" for k in range(n_src)), "length"]
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames or [], list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read as CSV ({err})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}")
    if not rows:
        raise DataError(f"{path}: no mixtures listed")
    for line, row in enumerate(rows, start=2):
        try:
            length = int(row["length"])
        except ValueError:
            raise DataError(f"{path}, line {line}: length {row['length']!r} is not a number of samples") from None
        for column in columns[1:-1]:
            _check_file(Path(row[column]), path, sample_rate, length)
    return path


def _check_file(audio: Path, listed_in: Path, sample_rate: int, length: int) -> None:
    if not audio.is_file():
        raise DataError(f"{audio}: listed in {listed_in} but no such file")
    try:
        info = sf.info(str(audio))
    except RuntimeError as err:  # soundfile's errors, e.g. unknown format, empty file
        reason = str(err).splitlines()[0] if str(err) else "unreadable"
        raise DataError(f"{audio}: not a readable audio file ({reason})") from None
    if info.channels != 1:
        raise DataError(f"{audio}: {info.channels} channels; the recipe expects mono files")
    if info.samplerate != sample_rate:
        raise DataError(f"{audio}: {info.samplerate} Hz; the config's sample_rate is {sample_rate}")
    if info.frames != length:
        raise DataError(f"{audio}: {info.frames} samples, but {listed_in} gives its mixture {length}")


class FiniteItems(Dataset):
    """A LibriMix-style dataset whose items with NaN or infinite samples raise :class:`DataError`.

    Args:
        dataset: yields ``(mixture [T], sources [n_src, T], ...)`` and has a
            ``df`` with ``mixture_path`` and ``source_<k>_path`` columns
            (:class:`asteroid.data.LibriMix`).
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int):
        item = self.dataset[index]
        signals = [item[0], *item[1]]
        for k, signal in enumerate(signals):
            if not torch.isfinite(signal).all():
                row = self.dataset.df.iloc[index]
                column = "mixture_path" if k == 0 else f"source_{k}_path"
                raise DataError(f"{row[column]}: NaN or infinite samples")
        return item
