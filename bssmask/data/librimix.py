"""LibriMix mixture lists: the one reader of their CSV files, its checks and its guard on samples.

A LibriMix CSV lists one mixture per row: ``mixture_ID``, ``mixture_path``,
``source_1_path``, ``source_2_path`` ... and ``length`` (samples). A list of
mixtures may also be a folder of ``s1/``, ``s2/`` ... subfolders of
same-named wav files.

**Paths in a CSV**: an absolute path is taken as written; a relative path is
relative to the CSV's folder (not to the working directory), for every
reader here, :func:`check_split` and the datasets :class:`FiniteItems`
wraps alike.

- :func:`split_csv`: the CSV of a split folder that
  :class:`asteroid.data.LibriMix` reads for a task.
- :func:`check_split`: that CSV and every listed file's header (readable
  audio, mono, sample rate, length equal to the CSV's ``length``) and, for
  training, that enough mixtures are as long as the excerpts it reads,
  before training or evaluation starts.
- :func:`list_mixtures`, :func:`mixture_files`: the sources and the mixture
  file of each mixture of a CSV or folder (``bssmask ablate --dataset``).
- :class:`FiniteItems`: a :class:`~asteroid.data.LibriMix` whose listed paths
  follow the rule above, whose items with NaN or infinite samples raise,
  naming the file, when they are read, and whose ids are those of any
  number of sources.

Every bad file raises :class:`DataError`, whose one-line message names it.

Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("mixture_dev_mix_both.csv", "mixture_dev_mix_clean.csv", "mixture_dev_mix_single.csv"):
    ...     _ = open(os.path.join(folder, name), "w").write("mixture_ID,source_1_path,source_2_path\\nm,a.wav,b.wav\\n")
    >>> split_csv(folder, "enh_single").name
    'mixture_dev_mix_single.csv'
    >>> list_mixtures(os.path.join(folder, "mixture_dev_mix_clean.csv"))
    Traceback (most recent call last):
    ...
    bssmask.data.librimix.DataError: .../a.wav: listed in .../mixture_dev_mix_clean.csv but no such file
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import soundfile as sf
import torch
from torch.utils.data import Dataset

from ..errors import UserError
from ..choices import choose

__all__ = ["DataError", "MIXTURE_COLUMNS", "TASK_FILES", "split_csv", "read_csv", "check_split", "list_mixtures",
           "mixture_files", "FiniteItems"]

#: Columns every mixture list has.
MIXTURE_COLUMNS = ("mixture_ID", "source_1_path", "source_2_path")
#: What the name of the CSV that :class:`asteroid.data.LibriMix` reads for each task contains.
TASK_FILES = {"sep_clean": "clean", "sep_noisy": "both", "enh_single": "single", "enh_both": "both"}


class DataError(UserError):
    """A bad data file (a mixture list or a file it lists); the one-line message names the file.

    Raised in a data loader worker, it reaches the main process with the
    worker's traceback in its message; it keeps only its own line.
    """

    def __init__(self, message: str):
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        lines = [line for line in str(message).splitlines() if line.startswith(marker)]
        super().__init__(lines[-1][len(marker):] if lines else message)


def split_csv(split_dir: str | Path, task: str = "sep_clean") -> Path:
    """The CSV of a split folder that :class:`asteroid.data.LibriMix` reads for ``task``.

    As Asteroid does: the first entry of ``os.listdir`` whose name contains
    ``TASK_FILES[task]`` (``sep_clean``: ``mixture_<split>_mix_clean.csv``,
    ``sep_noisy`` and ``enh_both``: ``*mix_both.csv``, ``enh_single``:
    ``*mix_single.csv``), so the file checked is the file read.

    Raises:
        ValueError: an unknown task.
        DataError: no such file in ``split_dir``.
    """
    key = TASK_FILES[choose("task", task, TASK_FILES)]
    found = [name for name in os.listdir(split_dir) if key in name]
    if not found:
        raise DataError(f"{split_dir}: no file with '{key}' in its name, the CSV of task {task} "
                        "(run the data stage first, or check the folder)")
    return Path(split_dir) / found[0]


def _listed(csv_path: Path, value: str) -> Path:
    """A path listed in a CSV: absolute, or relative to the CSV's folder."""
    return Path(value) if Path(value).is_absolute() else csv_path.parent / value


def _existing(csv_path: Path, value: str, column: str = "") -> Path:
    """The listed file (:func:`_listed`); :class:`DataError` if there is no such file."""
    path = _listed(csv_path, value)
    if not path.is_file():
        raise DataError(f"{path}: listed in {csv_path}{f' as a {column}' if column else ''} but no such file")
    return path


def read_csv(path: str | Path, columns=MIXTURE_COLUMNS) -> tuple[list[str], list[dict]]:
    """The header and rows of a mixture list; it must have ``columns`` and at least one row.

    Raises:
        DataError: not readable as CSV, a missing column, no rows.
    """
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames or [], list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read as CSV ({err})") from None
    if not header:
        raise DataError(f"{path}: empty file; a mixture list has a header row ({', '.join(columns)}) "
                        "and one row per mixture")
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}")
    if not rows:
        raise DataError(f"{path}: no mixtures listed")
    return header, rows


def check_split(split_dir: str | Path, sample_rate: int, n_src: int, task: str = "sep_clean",
                segment: float | None = None, min_mixtures: int = 1) -> Path:
    """Check a split folder's CSV (:func:`split_csv`) and the header of every file it lists; return the CSV.

    The mixtures that :class:`asteroid.data.LibriMix` keeps (with
    ``segment``: a ``length`` of at least ``int(segment * sample_rate)``
    samples; it drops the others) must number at least ``min_mixtures``:
    one for validation, a batch for training, which drops its last partial
    batch.

    Args:
        split_dir: folder with the split's CSV files.
        sample_rate: rate every file must have (Hz).
        n_src: sources per mixture (``source_1_path`` ... columns).
        task: the LibriMix task, which picks the CSV.
        segment: length of the excerpts read (seconds); ``None``: whole mixtures.
        min_mixtures: how many mixtures must be at least ``segment`` long.

    Raises:
        DataError: missing columns, no rows, a listed file that does not
            exist, is not readable audio, is not mono, has another sample
            rate, or whose length differs from the CSV's ``length``; fewer
            than ``min_mixtures`` mixtures of ``segment`` seconds.
    """
    path = split_csv(split_dir, task)
    columns = ["mixture_ID", "mixture_path", *(f"source_{k + 1}_path" for k in range(n_src)), "length"]
    _, rows = read_csv(path, columns)
    lengths = []
    for line, row in enumerate(rows, start=2):
        try:
            lengths.append(int(row["length"]))
        except ValueError:
            raise DataError(f"{path}, line {line}: length {row['length']!r} is not a number of samples") from None
        for column in columns[1:-1]:
            _check_file(_existing(path, row[column]), path, sample_rate, lengths[-1])
    _check_long_enough(path, lengths, sample_rate, segment, min_mixtures)
    return path


def _check_long_enough(path: Path, lengths: list[int], sample_rate: int, segment: float | None,
                       min_mixtures: int) -> None:
    """At least ``min_mixtures`` of ``lengths`` (samples) hold a ``segment``-second excerpt (Asteroid's rule)."""
    kept = sum(length >= int((segment or 0) * sample_rate) for length in lengths)
    if kept >= min_mixtures:
        return
    longest = math.floor(max(lengths) / sample_rate * 100) / 100  # a segment of at most this fits
    if not kept:
        raise DataError(f"{path}: all {len(lengths)} mixtures are shorter than the {segment} s segment "
                        f"(the longest is {longest:.2f} s); lower --segment to {longest:.2f} or less")
    long_enough = f" of at least the {segment} s segment" if segment else ""
    raise DataError(f"{path}: {kept} mixtures{long_enough}, fewer than a batch of {min_mixtures}; "
                    f"lower --batch_size to {kept}{', or --segment' if segment else ''}, or list more mixtures")


def _check_file(audio: Path, listed_in: Path, sample_rate: int, length: int) -> None:
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


def _source_columns(header: list[str]) -> list[str]:
    return sorted((c for c in header if re.fullmatch(r"source_\d+_path", c)), key=lambda c: int(c.split("_")[1]))


def _read_folder(path: Path) -> list[tuple[str, list[Path]]]:
    """Mixtures of a folder with ``s1/``, ``s2/``, ... subfolders of same-named wav files."""
    dirs = sorted((d for d in path.iterdir() if d.is_dir() and re.fullmatch(r"s\d+", d.name)),
                  key=lambda d: int(d.name[1:]))
    if len(dirs) < 2:
        raise DataError(f"{path}: expected subfolders s1/, s2/ (...) of same-named wav files")
    names = sorted(p.name for p in dirs[0].glob("*.wav"))
    if not names:
        raise DataError(f"{dirs[0]}: no wav files")
    return [(Path(n).stem, [d / n for d in dirs]) for n in names]


def list_mixtures(path: str | Path) -> list[tuple[str, list[Path]]]:
    """``(mixture_ID, [source files])`` of a LibriMix CSV or an ``s1/``, ``s2/`` folder; every file must exist.

    Raises:
        DataError: no such file or folder, a bad CSV (:func:`read_csv`) or
            folder, a listed file that does not exist.
    """
    path = Path(path)
    if path.is_dir():
        mixtures = _read_folder(path)
        for _, sources in mixtures:
            for source in sources:
                if not source.is_file():
                    raise DataError(f"{source}: listed in {path} but no such file")
        return mixtures
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    header, rows = read_csv(path)
    return [(row["mixture_ID"], [_existing(path, row[c]) for c in _source_columns(header)]) for row in rows]


def mixture_files(path: str | Path) -> dict[str, Path]:
    """The mixture file of each mixture a LibriMix CSV lists (``mixture_path``), by ``mixture_ID``.

    Empty for a folder and for a CSV without a ``mixture_path`` column.

    Raises:
        DataError: a bad CSV (:func:`read_csv`), a listed mixture file that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    header, rows = read_csv(path)
    if "mixture_path" not in header:
        return {}
    return {row["mixture_ID"]: _existing(path, row["mixture_path"], "mixture_path") for row in rows}


def _rebased(frame, csv_path: Path):
    """A LibriMix table (pandas) with its relative ``*_path`` values made relative to the CSV's folder."""
    relative = {c: [isinstance(v, str) and not os.path.isabs(v) for v in frame[c]]
                for c in frame.columns if c.endswith("_path")}
    if not any(any(flags) for flags in relative.values()):
        return frame
    frame = frame.copy()
    for column, flags in relative.items():
        frame[column] = [str(_listed(csv_path, v)) if flag else v for v, flag in zip(frame[column], flags)]
    return frame


class FiniteItems(Dataset):
    """A :class:`~asteroid.data.LibriMix` whose listed paths follow this module's rule, whose items
    with NaN or infinite samples raise :class:`DataError`, and whose ids work for any ``n_src``.

    Relative paths of the dataset's tables (``df``, and ``df_clean`` of task
    ``enh_both``) are made relative to its CSV's folder when it is wrapped.

    Non-finite samples are checked on the item read, not by a scan before
    training: a scan reads every sample of the corpus (LibriMix's
    train-360 is about 50,000 mixtures of three files) before the first
    step, while the item check costs one ``isfinite`` on samples read
    anyway. A NaN in the first epoch's excerpts stops the run at the batch
    that reads it, before any checkpoint; one outside every excerpt read
    never reaches the model.

    With ``return_id``, items end with the mixture's ids as Asteroid makes
    them (its file name cut at ``_``), for two sources or more; Asteroid's
    own unpacks exactly two.

    Args:
        dataset: yields ``(mixture [T], sources [n_src, T], ...)``; has a
            ``csv_path`` and a ``df`` with ``mixture_path`` and
            ``source_<k>_path`` columns (:class:`asteroid.data.LibriMix`).
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.return_id = getattr(dataset, "return_id", False)
        dataset.return_id = False
        for table in ("df", "df_clean"):
            if hasattr(dataset, table):
                setattr(dataset, table, _rebased(getattr(dataset, table), Path(dataset.csv_path)))

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
                column = "mixture_path" if k == 0 else f"source_{k}_path"
                raise DataError(f"{self.dataset.df.iloc[index][column]}: NaN or infinite samples")
        if self.return_id:
            return (*item, Path(self.dataset.df.iloc[index]["mixture_path"]).name.split(".")[0].split("_"))
        return item
