"""Finding model files and loading checkpoints without running code from them.

A PyTorch checkpoint is a pickle, and unpickling can call any function the
file names. :func:`load_safe` loads with ``torch.load(weights_only=True)``:
only tensors, numbers, strings and plain containers (plus ``TorchVersion``,
the string subclass Asteroid's ``serialize`` records) come back; a file that
names any other global is refused before anything runs.

:func:`locate` turns what a user names into a file: a local file, a model
bundled with the package (``"default"``, :data:`PRETRAINED_DIR`), or a
Hugging Face hub id or URL (downloaded by Asteroid, online only).

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
from collections.abc import Callable
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torch.torch_version import TorchVersion

from .errors import UserError

__all__ = ["CheckpointError", "PretrainedError", "PRETRAINED_DIR", "bundled_models", "locate", "load_safe", "read_package",
           "build_from_package"]

#: Models shipped inside the package: ``<name>.pth`` (a ``serialize()`` file) and its model card ``<name>.md``.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"

#: Suffixes that mark a name as a local file rather than a hub id.
_FILE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")


#: First bytes of ``torch.save`` files: a zip archive, or a pickle (legacy format).
_MAGICS = (b"PK\x03\x04", b"\x80")


class CheckpointError(UserError):
    """A checkpoint that cannot be loaded safely; the one-line message names the file."""


class PretrainedError(UserError):
    """A pretrained model that cannot be used here; the message names it."""


def bundled_models() -> list[str]:
    """Names of the models bundled with the package (``["default"]``)."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pth"))


def _download(spec: str) -> str:
    """Local copy of a hub id or URL (Asteroid's downloader), or a one-line error.

    The host's name is resolved first, so that an offline machine gets the
    error at once instead of after the hub client's retries.
    """
    from asteroid.utils.hub_utils import cached_download

    host = urlparse(spec).hostname if spec.startswith(("http://", "https://")) else "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        return cached_download(spec)
    except Exception as err:  # socket, requests, huggingface_hub and OS errors alike when offline
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PretrainedError(
            f"{spec}: not a local file or a bundled model ({', '.join(bundled_models()) or 'none'}), and fetching "
            f"it from {host} failed ({reason}); on an offline machine pass a file saved with serialize()"
        ) from None


def locate(spec: str | os.PathLike) -> str:
    """The model file ``spec`` names: a local file, a bundled model's file, or a hub download.

    Args:
        spec: a path; a bundled model's name (:func:`bundled_models`, e.g.
            ``"default"``); a Hugging Face hub id (``"owner/name"``) or an
            http(s) URL, fetched when the machine is online.

    Raises:
        CheckpointError: a path (absolute, starting with ``.``, or ending in
            ``.pth``, ``.pt``, ``.ckpt``, ``.bin``) that does not exist.
        PretrainedError: a hub id or URL that could not be fetched.

    Example:
        >>> locate(__file__) == __file__
        True
    """
    path = os.fspath(spec)
    if os.path.isfile(path):
        return path
    if path in bundled_models():
        return str(PRETRAINED_DIR / f"{path}.pth")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: a folder, not a model file")
    if os.path.isabs(path) or path.startswith(".") or path.endswith(_FILE_SUFFIXES):
        raise CheckpointError(f"{path}: no such file")
    return _download(path)


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


def read_package(spec) -> tuple[str, dict]:
    """A model package (Asteroid's ``serialize()``: ``model_name``, ``model_args``, ``state_dict``) and how to name it.

    Args:
        spec: the package itself, or what :func:`locate` finds: a file, a
            bundled model's name, a hub id or URL (online only).

    Returns:
        ``(source, package)``: the located file (``"serialized model"`` for a dict) and its package.

    Raises:
        CheckpointError: missing, unsafe or malformed file (:func:`load_safe`), or not such a package.
    """
    source, package = "serialized model", spec
    if isinstance(spec, (str, os.PathLike)):
        source = locate(spec)
        package = load_safe(source)
    if not isinstance(package, dict) or not {"model_name", "model_args", "state_dict"} <= set(package):
        raise CheckpointError(
            f"{source}: not a bssmask model file (a serialize() dict with model_name, model_args, state_dict)"
        )
    return source, package


def _weights_mismatch(model: nn.Module, state_dict: dict) -> str | None:
    """Load ``state_dict`` into ``model``; on a mismatch, one line saying what did not fit (else None)."""
    try:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shapes that differ
        lines = [line.strip() for line in str(err).splitlines() if "size mismatch" in line]
        return lines[0] if lines else str(err).strip().splitlines()[0]
    parts = [f"{len(keys)} {what} (first: {keys[0]})" for keys, what in ((missing, "missing"), (unexpected, "unexpected"))
             if keys]
    return ", ".join(parts) or None


def build_from_package(package: dict, source: str, build: Callable[[dict], tuple[nn.Module, nn.Module]],
                       **model_args) -> nn.Module:
    """The model of a package (:func:`read_package`), built by ``build`` and given the package's weights.

    Args:
        package: the package; its ``model_args``, with ``model_args`` over them, go to ``build``.
        source: how to name the package in a message.
        build: ``model_args -> (module, model)``: the module the ``state_dict`` fits (the Asteroid
            model) and the model returned (the same, or a wrapper around it).

    Raises:
        CheckpointError: the model cannot be built from its arguments, or its weights do not fit.

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> package = {"model_name": "Linear", "model_args": {"in_features": 2, "out_features": 1},
        ...            "state_dict": layer.state_dict()}
        >>> built = build_from_package(package, "linear.pth", lambda args: (nn.Linear(**args),) * 2)
        >>> torch.equal(built.weight, layer.weight)
        True
        >>> build_from_package(package, "linear.pth", lambda args: (nn.Linear(**args),) * 2, out_features=3)
        Traceback (most recent call last):
        ...
        bssmask.checkpoint.CheckpointError: linear.pth: its weights do not fit a Linear built from its model_args and head (size mismatch for weight: ...)
    """
    name = package["model_name"]
    try:
        module, model = build({**package["model_args"], **model_args})
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: cannot build its {name} ({str(err).splitlines()[0]})") from None
    mismatch = _weights_mismatch(module, package["state_dict"])
    if mismatch:
        raise CheckpointError(f"{source}: its weights do not fit a {name} built from its model_args "
                              f"and head ({mismatch})")
    return model
