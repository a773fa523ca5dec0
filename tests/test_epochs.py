"""Reproducible epochs: the sampler's order follows (seed, epoch), each process gets its padded share, and
set_epoch moves the dataset's excerpts."""

import random

import pytest
import torch

from bssmask.data.epochs import EpochSampler, SeededExcerpts


class Draws:
    """Item ``i``: ``(i, a number drawn with Python's random)``."""

    def __len__(self):
        return 7

    def __getitem__(self, index):
        return index, random.random()


def process_group(monkeypatch, rank: int, world: int):
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: rank)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: world)


@pytest.mark.parametrize("shuffle", [True, False])
def test_order_follows_the_seed_and_epoch_only(shuffle):
    sampler = EpochSampler(Draws(), seed=5, shuffle=shuffle)
    sampler.set_epoch(2)
    first = list(sampler)
    torch.manual_seed(123)  # the global generator does not matter
    again = EpochSampler(Draws(), seed=5, shuffle=shuffle)
    again.set_epoch(2)
    assert list(again) == first and len(sampler) == 7
    expected = torch.randperm(7, generator=torch.Generator().manual_seed(7)).tolist() if shuffle else list(range(7))
    assert first == expected
    sampler.set_epoch(3)
    assert (list(sampler) != first) == shuffle


@pytest.mark.parametrize("world", [2, 3, 4, 9])
def test_each_process_gets_its_padded_share(monkeypatch, world):
    order = EpochSampler(Draws(), seed=1)
    order.set_epoch(4)
    order = list(order)
    shares = []
    for rank in range(world):
        process_group(monkeypatch, rank, world)
        sampler = EpochSampler(Draws(), seed=1)  # made before the process group: it joins it when drawing
        sampler.set_epoch(4)
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1]) == -(-7 // world)
    padded = (order * world)[: len(shares[0]) * world]
    assert [i for k in range(len(shares[0])) for i in (share[k] for share in shares)] == padded


def test_set_epoch_moves_the_excerpts():
    dataset = SeededExcerpts(Draws(), seed=0)
    sampler = EpochSampler(dataset, seed=0)
    epoch_0 = [dataset[i] for i in range(7)]
    sampler.set_epoch(1)
    assert dataset.epoch == 1
    epoch_1 = [dataset[i] for i in range(7)]
    assert epoch_0 != epoch_1
    sampler.set_epoch(0)
    assert [dataset[i] for i in reversed(range(7))][::-1] == epoch_0  # whatever was read before
