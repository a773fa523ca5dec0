"""Long signals in bounded memory: resampling block by block, and separation in overlapping chunks.

Both read a signal as an iterable of consecutive blocks ``[..., t]`` of any
sizes and yield their output as blocks, holding at most a chunk (and a
resampling kernel's context) at a time. Concatenated, their outputs are:

- :func:`resample_blocks`: :func:`bssmask.audio.resample` of the whole
  signal, to float rounding (each output sample is computed from the same
  input samples with the same kernel; only the block boundaries differ).
- :func:`separate_blocks`: the estimates of chunks of ``chunk`` samples that
  overlap by ``overlap``, cross-faded on each overlap by the two halves of a
  Hann window (``sin^2`` rising, ``cos^2`` falling: they add up to 1), each
  chunk's sources first put in the order of the previous chunk's.

Asteroid's :class:`asteroid.dsp.overlap_add.LambdaOverlapAdd` does this on a
tensor that holds the whole input and output; here one chunk is held. Its
permutation criterion (``asteroid.dsp.overlap_add._reorder_sources``: the
mean-removed correlation on the overlap, the best permutation found by
:class:`asteroid.losses.pit_wrapper.PITReorder`) is reused for chunks of unequal
lengths (the last one is shorter), which ``_reorder_sources`` does not take.

Example:
    >>> import torch
    >>> split = lambda x: torch.stack([x, -x])            # a "model": [t] -> [n_src, t]
    >>> x = torch.randn(4500)
    >>> out = torch.cat(list(separate_blocks(x.split(700), split, chunk=1000, overlap=200)), -1)
    >>> out.shape, torch.allclose(out, split(x), atol=1e-6)
    (torch.Size([2, 4500]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch
import torchaudio
from asteroid.losses.pit_wrapper import PITReorder

from .audio import resample


def resample_blocks(blocks: Iterable[torch.Tensor], orig_rate: int, new_rate: int) -> Iterator[torch.Tensor]:
    """Resample a signal given as blocks ``[..., t]``; the blocks yielded are ``resample`` of the whole.

    With the rates divided by their gcd, each output frame of ``new`` samples
    reads the input around ``orig`` samples: it is computed once ``margin``
    frames of real input are on its left (zeros before the signal, as
    :func:`resample` pads) and the kernel's width on its right.

    Example:
        >>> x = torch.randn(2, 5000)
        >>> y = torch.cat(list(resample_blocks(x.split(1234, -1), 16000, 8000)), -1)
        >>> y.shape, torch.allclose(y, resample(x, 16000, 8000), atol=1e-6)
        (torch.Size([2, 2500]), True)
    """
    if orig_rate == new_rate:
        yield from blocks
        return
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    width = torchaudio.transforms.Resample(orig_rate, new_rate).width
    margin = math.ceil(width / orig)
    buffer = None  # the input from frame (frames yielded - margin) on
    for block in blocks:
        if buffer is None:
            buffer = block.new_zeros(*block.shape[:-1], margin * orig)
        buffer = torch.cat([buffer, block], -1)
        ready = (buffer.shape[-1] - width) // orig - margin
        if ready > 0:
            yield resample(buffer, orig_rate, new_rate)[..., margin * new : (margin + ready) * new]
            buffer = buffer[..., ready * orig :]
    if buffer is not None:  # the end, zero-padded as resample pads it
        yield resample(buffer, orig_rate, new_rate)[..., margin * new :]


def _overlap_correlation(overlap: int) -> Callable:
    """PIT's pairwise loss ``[1, n_src, n_src]``: minus the correlation of the overlap's two estimates.

    The current chunk's first ``overlap`` samples against the previous
    chunk's last ones, each mean-removed (``asteroid.dsp.overlap_add._reorder_sources``).
    """

    def loss(current, previous):
        x = current[..., :overlap] - current[..., :overlap].mean(-1, keepdim=True)
        y = previous[..., -overlap:] - previous[..., -overlap:].mean(-1, keepdim=True)
        return -torch.sum(x.unsqueeze(1) * y.unsqueeze(2), dim=-1)

    return loss


def chunk_count(length: int, chunk: int, overlap: int) -> int:
    """The number of chunks :func:`separate_blocks` cuts a signal of ``length`` samples into.

    Example:
        >>> chunk_count(1000, 1000, 200), chunk_count(1001, 1000, 200), chunk_count(4500, 1000, 200)
        (1, 2, 6)
    """
    return 1 + max(0, math.ceil((length - chunk) / (chunk - overlap)))


def separate_blocks(blocks: Iterable[torch.Tensor], separate: Callable, chunk: int, overlap: int,
                    on_chunk: Callable | None = None) -> Iterator[torch.Tensor]:
    """Separate a signal given as blocks ``[t]`` in overlapping chunks; yield its estimates ``[n_src, t']``.

    Args:
        blocks: the mixture, consecutive blocks of any sizes.
        separate: ``[t] -> [n_src, t]``, the model on one chunk.
        chunk: samples per chunk; chunk ``k`` starts at ``k * (chunk - overlap)``.
        overlap: samples shared by consecutive chunks, ``1 <= overlap <= chunk // 2``.
        on_chunk: called after each chunk (a progress bar's ``update``).

    The last chunk ends with the signal: longer than ``overlap``, at most
    ``chunk`` samples. A signal of at most ``chunk`` samples is one chunk,
    ``separate`` of the whole.

    Raises:
        ValueError: ``overlap`` out of range.
    """
    if not 1 <= overlap <= chunk // 2:
        raise ValueError(f"overlap must be in [1, chunk // 2 = {chunk // 2}], got {overlap}")
    rise = torch.sin(0.5 * torch.pi * (torch.arange(overlap) + 0.5) / overlap) ** 2
    fall = rise.flip(0)  # rise + fall == 1
    reorder = PITReorder(_overlap_correlation(overlap))
    tail = None  # the previous chunk's estimates on the overlap, [n_src, overlap]

    def run(mix: torch.Tensor) -> torch.Tensor:
        estimates = separate(mix)
        if tail is not None:
            estimates = reorder(estimates[None], tail[None])[0]
            estimates[:, :overlap] = tail * fall + estimates[:, :overlap] * rise
        if on_chunk is not None:
            on_chunk()
        return estimates

    pending = torch.zeros(0)  # the mixture from the current chunk's start
    for block in blocks:
        pending = torch.cat([pending, block])
        while pending.shape[-1] > chunk:  # more input follows: not the last chunk
            estimates = run(pending[:chunk])
            tail = estimates[:, -overlap:]  # chunk >= 2 * overlap: not cross-faded
            yield estimates[:, :-overlap]
            pending = pending[chunk - overlap :]
    yield run(pending)
