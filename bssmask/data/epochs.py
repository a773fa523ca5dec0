"""Reproducible epochs: what an epoch reads depends on the seed and the epoch number only.

A run resumed from the checkpoint of epoch ``k`` then reads in epoch
``k + 1`` exactly what an uninterrupted run reads: the same order and the
same random excerpts, whatever ran before in the process and however many
data loader workers there are.

- :class:`SeededExcerpts` wraps a dataset that draws random excerpts with
  Python's :mod:`random` (as :class:`asteroid.data.LibriMix` does with
  ``segment``) and seeds that draw from ``(seed, epoch, index)``.
- :class:`EpochSampler` orders (or keeps in order) the indices of an epoch
  from ``(seed, epoch)`` and gives each DDP process its share, as
  :class:`torch.utils.data.DistributedSampler` does; its ``set_epoch``,
  which Lightning calls before each epoch, also moves the dataset to that
  epoch. Loaders built with it are used with
  ``Trainer(use_distributed_sampler=False)``.
"""

from __future__ import annotations

import math
import random

import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["SeededExcerpts", "EpochSampler"]


class SeededExcerpts(Dataset):
    """A dataset whose random draws for item ``i`` in epoch ``e`` are seeded by ``(seed, e, i)``.

    Args:
        dataset: the wrapped dataset (its ``__getitem__`` may use :mod:`random`).
        seed: the run's seed.
        fixed: draw the same excerpts in every epoch (validation).
    """

    def __init__(self, dataset: Dataset, seed: int, fixed: bool = False):
        self.dataset, self.seed, self.fixed = dataset, seed, fixed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        state = random.getstate()
        random.seed(f"{self.seed}/{0 if self.fixed else self.epoch}/{index}")
        try:
            return self.dataset[index]
        finally:
            random.setstate(state)


class EpochSampler(Sampler[int]):
    """This process's indices of an epoch: a function of the seed, the epoch and the process rank.

    Args:
        dataset: the dataset sampled; a :class:`SeededExcerpts` follows the
            sampler's epoch.
        seed: the run's seed.
        shuffle: random order drawn from ``seed + epoch`` (else in order).

    Under DDP (an initialized process group), process ``r`` of ``w`` takes
    indices ``r, r + w, ...`` of the epoch's order, padded by repeating the
    first ones so that every process gets ``ceil(len / w)``.
    """

    def __init__(self, dataset, seed: int, shuffle: bool = True):
        self.dataset, self.seed, self.shuffle = dataset, seed, shuffle
        self.epoch = 0

    @staticmethod
    def _rank_and_world() -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if isinstance(self.dataset, SeededExcerpts):
            self.dataset.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self._rank_and_world()[1])

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            order = list(range(n))
        rank, world = self._rank_and_world()
        total = math.ceil(n / world) * world
        order += order[: total - n]
        return iter(order[rank:total:world])
