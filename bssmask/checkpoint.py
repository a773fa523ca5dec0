"""Loading checkpoints without running code from them.

A PyTorch checkpoint is a pickle, and unpickling can call any function the
file names. :func:`load_safe` loads with ``torch.load(weights_only=True)``:
only tensors, numbers, strings and plain containers (plus ``TorchVersion``,
the string subclass Asteroid's ``serialize`` records) come back; a file that
names any other global is refused before anything runs.

Example:
    >>> import torch, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pth")
    >>> torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    >>> load_safe(path)["state_dict"]["w"]
    tensor([1., 1.])
"""

from __future__ import annotations

import os
import pickle

import torch
from torch.torch_version import TorchVersion

__all__ = ["CheckpointError", "load_safe"]


#: First bytes of ``torch.save`` files: a zip archive, or a pickle (legacy format).
_MAGICS = (b"PK\x03\x04", b"\x80")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely; the one-line message names the file."""


def _first_reason(message: str) -> str:
    """The line of a ``torch.load`` weights-only error that says what was refused."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line.removeprefix("WeightsUnpickler error: ")
    return lines[-1] if lines else "unknown reason"


def load_safe(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """Load a checkpoint with ``weights_only=True``, never executing code from it.

    Args:
        path: a file written by ``torch.save`` (e.g. ``model.serialize()``).
        map_location: where tensors are loaded (default CPU).

    Returns:
        The stored object: tensors and plain Python containers.

    Raises:
        CheckpointError: the file is missing, is not a PyTorch checkpoint, or
            would need unpickling of arbitrary objects (refused).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as file:
        head = file.read(4)
    if not head.startswith(_MAGICS):
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)"
        )
    try:
        with torch.serialization.safe_globals([TorchVersion]):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refused: loading it needs unpickling of arbitrary objects "
            f"({_first_reason(str(err))}); only tensors and plain containers are loaded"
        ) from None
    except Exception as err:  # torch.load raises many types on files that are not checkpoints
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "no data"
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(err).__name__}: {detail})") from None
