"""Reproducible epochs: what an epoch reads depends on the seed and the epoch number only.

A run resumed from the checkpoint of epoch ``k`` then reads in epoch
``k + 1`` exactly what an uninterrupted run reads: the same order and the
same random excerpts, whatever ran before in the process and however many
data loader workers there are.

- :class:`SeededExcerpts` wraps a dataset that draws random excerpts with
  Python's :mod:`random` (as :class:`asteroid.data.LibriMix` does with
  ``segment``) and seeds that draw from ``(seed, epoch, index)``.
- :class:`EpochSampler`, a :class:`torch.utils.data.DistributedSampler`,
  orders (or keeps in order) the indices of an epoch from ``(seed, epoch)``
  and gives each DDP process its share; its ``set_epoch``, which Lightning
  calls before each epoch, also moves the dataset to that epoch. Loaders
  built with it are used with ``Trainer(use_distributed_sampler=False)``.
"""

from __future__ import annotations

import math
import random

import torch
from torch.utils.data import Dataset, DistributedSampler

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


class EpochSampler(DistributedSampler):
    """This process's indices of an epoch: torch's :class:`~torch.utils.data.DistributedSampler`
    (order from ``seed + epoch``, process ``r`` of ``w`` taking indices ``r, r + w, ...``, padded by
    repeating the first ones so that every process gets ``ceil(len / w)``), with two differences:

    - the processes are those of the process group when the indices are
      drawn, not when the sampler is made (a recipe builds its loaders
      before Lightning starts DDP); without one, a single process;
    - :meth:`set_epoch` also moves a :class:`SeededExcerpts` dataset to the epoch.

    Args:
        dataset: the dataset sampled.
        seed: the run's seed.
        shuffle: random order drawn from ``seed + epoch`` (else in order).

    Example:
        >>> sampler = EpochSampler(SeededExcerpts(list(range(5)), seed=0), seed=0)
        >>> sampler.set_epoch(3)
        >>> list(sampler) == torch.randperm(5, generator=torch.Generator().manual_seed(3)).tolist()
        True
        >>> sampler.dataset.epoch
        3
    """

    def __init__(self, dataset, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=1, rank=0, shuffle=shuffle, seed=seed)

    def _join_process_group(self) -> None:
        """Take this process's rank and the number of processes from the process group, if there is one."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.rank, self.num_replicas = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if isinstance(self.dataset, SeededExcerpts):
            self.dataset.epoch = epoch

    def __len__(self) -> int:
        self._join_process_group()
        return super().__len__()

    def __iter__(self):
        self._join_process_group()
        return super().__iter__()
