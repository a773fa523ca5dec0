"""Atomic writes: a file or folder is either complete or absent, never half-written.

Each file writer writes a temporary file in the destination folder and
renames it over the destination (``os.replace``, atomic on POSIX), so an
interrupted run leaves at most a ``.tmp`` file that no reader takes for a
result. The file gets the permissions of any new file under the process's
umask (0644 under umask 022), not the 0600 of :func:`tempfile.mkstemp`.
:func:`atomic_folder` does the same for a folder of files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process's file mode creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    The file's mode is ``0666`` less the umask, as for a file opened with ``open(path, "w")``.

    Example:
        >>> import numpy as np, soundfile as sf
        >>> with atomic_path("/tmp/bssmask-example.wav") as tmp:
        ...     sf.write(tmp, np.zeros(8), 8000, format="WAV")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def _remove_abandoned(path: Path) -> None:
    """Remove the temporary folders of :func:`atomic_folder` for ``path`` that no process holds (killed midway).

    A writer holds an exclusive lock on ``<temporary folder>.lock`` while it
    writes; the lock goes with the process, however it ends.
    """
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        if not tmp.is_dir():
            continue
        lock = tmp.with_name(tmp.name + ".lock")
        try:
            with open(lock, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(tmp, ignore_errors=True)
            lock.unlink()
        except BlockingIOError:
            continue  # another process is writing it


@contextlib.contextmanager
def atomic_folder(path: str | Path):
    """Yield a new empty folder next to ``path`` (``.<name>.tmp-<pid>``); on success it replaces ``path``.

    On an error the temporary folder is removed and ``path`` is left as it
    was. The temporary folders of writers of ``path`` that were killed
    midway are removed first; a folder another process is writing is left
    to it.

    Example:
        >>> with atomic_folder("/tmp/bssmask-example") as tmp:
        ...     _ = (tmp / "done.txt").write_text("complete")
        >>> (Path("/tmp/bssmask-example") / "done.txt").read_text()
        'complete'
    """
    path = Path(path)
    _remove_abandoned(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(tmp.with_name(tmp.name + ".lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.unlink(lock.name)
        lock.close()


def output_folder(path: str | Path) -> Path:
    """``path`` checked as an output folder: absent (created on the first write) or a folder.

    Raises:
        ValueError: ``path`` exists and is not a folder (a file of that name, say).

    Example:
        >>> output_folder("/tmp")
        PosixPath('/tmp')
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder; give a folder for the results")
    return path
