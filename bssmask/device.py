"""The torch device a command runs on, checked before any work starts.

Example:
    >>> resolve("cpu")
    device(type='cpu')
    >>> resolve("auto").type in ("cpu", "cuda")
    True
"""

from __future__ import annotations

import torch

__all__ = ["resolve"]


def resolve(name: str) -> torch.device:
    """A device this machine has, from ``"auto"`` (the first CUDA GPU if any, else the CPU) or a torch name.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.

    Raises:
        ValueError: a name torch does not know, or a device this machine lacks
            (one line naming it, instead of torch's "Found no NVIDIA driver").
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r}: not a torch device (auto, cpu, cuda, cuda:N, mps)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {name!r}: this machine has no CUDA GPU; use cpu or auto")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {name!r}: MPS is not available on this machine; use cpu or auto")
    elif device.type != "cpu":
        raise ValueError(f"device {name!r}: only cpu, cuda and mps devices are supported")
    return device
