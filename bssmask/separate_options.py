"""The options of ``bssmask separate`` (:mod:`bssmask.separate`), importable without torch.

The command line builds its flags and their help from
:class:`SeparateOptions`' fields, defaults and meanings.

Example:
    >>> SeparateOptions(chunk_seconds=20).validate()
    >>> SeparateOptions(channel=0).validate()
    Traceback (most recent call last):
    ...
    ValueError: --channel: expected a channel number from 1, got 0
"""

from __future__ import annotations

from dataclasses import dataclass

from .options import option

#: The shortest chunk, in seconds (its overlaps need a few STFT frames each).
MIN_CHUNK_SECONDS = 1.0
#: The share of a chunk that overlaps the next one (:attr:`SeparateOptions.chunk_seconds`).
OVERLAP_FRACTION = 0.25


@dataclass(frozen=True)
class SeparateOptions:
    """How ``bssmask separate`` reads its inputs and cuts them; each field's meaning is its flag's help."""

    channel: int | None = option(None, "the channel to separate, 1 for the first; default: a multichannel input is "
                                       "downmixed to the mean of its channels (said on stderr)")
    chunk_seconds: float = option(30.0, "an input longer than this (at the model's rate) is separated in chunks of "
                                        "this length that overlap by a quarter of it, cross-faded, each speaker kept "
                                        "on the same output; shorter inputs are separated whole. Memory grows with "
                                        "the chunk, not the input")
    device: str = option("auto", "torch device: auto (a CUDA GPU if there is one, else the CPU), cpu, cuda, cuda:N")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        if self.channel is not None and self.channel < 1:
            raise ValueError(f"--channel: expected a channel number from 1, got {self.channel}")
        if not self.chunk_seconds >= MIN_CHUNK_SECONDS:
            raise ValueError(f"--chunk-seconds: expected at least {MIN_CHUNK_SECONDS:g}, got {self.chunk_seconds:g}")
