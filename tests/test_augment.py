"""Speed perturbation (bssmask.data.augment): pitch moves by the factor, mixtures stay sums, draws follow the seed."""

import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from bssmask.data.augment import SpeedPerturbed, speed_change
from bssmask.data.epochs import SeededExcerpts
from bssmask.metrics import si_sdr


def peak_hz(signal: torch.Tensor, rate: int = 8000) -> float:
    spectrum = torch.fft.rfft(signal * torch.hann_window(signal.shape[-1], dtype=signal.dtype)).abs()
    return float(spectrum.argmax()) * rate / signal.shape[-1]


@pytest.mark.parametrize("factor", [0.85, 0.9, 1.1, 1.15])
def test_speed_change_scales_pitch_and_keeps_length(factor):
    t = torch.arange(8000, dtype=torch.float64) / 8000
    tone = torch.sin(2 * math.pi * 250 * t)
    changed = speed_change(tone, factor)
    assert changed.shape == tone.shape
    # The played part (a faster tone ends early, then zeros) has its peak at 250 * factor Hz (1 Hz bins).
    played = int(8000 / factor) if factor > 1 else 8000
    assert abs(peak_hz(changed[:played]) - 250 * factor) <= 8000 / played
    if factor > 1:
        assert torch.all(changed[played + 1:] == 0)


def test_speed_change_is_undone_by_the_inverse_factor(speech_pair):
    speech = speech_pair[0].double()
    there_and_back = speed_change(speed_change(speech, 0.8), 1.25)
    # 0.8 stretches 2 s to 2.5 s and keeps the first 2 s: 1.6 s of the original come back.
    kept = slice(400, 12000)
    assert float(si_sdr(speech[None, kept], there_and_back[None, kept])) > 25
    assert torch.equal(speed_change(speech, 1.0), speech)


def test_speed_change_refuses_a_nonpositive_factor(speech_pair):
    with pytest.raises(ValueError, match="speed factor 0"):
        speed_change(speech_pair[0], 0)


class Pairs(Dataset):
    """Items (mixture, sources) of the bundled speech pair, shifted by the index."""

    def __init__(self, sources):
        self.sources = sources

    def __len__(self):
        return 4

    def __getitem__(self, index):
        sources = torch.roll(self.sources, 500 * index, dims=-1)
        return sources.sum(0), sources


def test_speed_perturbed_items_are_sums_of_changed_sources_drawn_from_the_seed(speech_pair):
    perturbed = SeededExcerpts(SpeedPerturbed(Pairs(speech_pair), [0.9, 1.1]), seed=3)
    mixture, sources = perturbed[2]
    assert sources.shape == speech_pair.shape and mixture.shape == speech_pair.shape[1:]
    assert torch.allclose(mixture, sources.sum(0))
    # Each source is the original at one of the factors.
    original = torch.roll(speech_pair, 1000, dims=-1)
    for changed, source in zip(sources, original):
        assert any(torch.equal(changed, speed_change(source, f)) for f in (0.9, 1.1))
    again = perturbed[2][1]
    assert torch.equal(again, sources)
    # Another epoch draws again: over 4 items x 2 sources, some factor differs.
    first = [perturbed[i][1] for i in range(4)]
    perturbed.epoch = 1
    assert any(not torch.equal(a, perturbed[i][1]) for i, a in enumerate(first))


def test_speed_perturbed_refuses_bad_factors(speech_pair):
    with pytest.raises(ValueError, match=r"speed_perturb \[1.0, -0.9\]: give positive speed factors"):
        SpeedPerturbed(Pairs(speech_pair), [1.0, -0.9])
    with pytest.raises(ValueError, match="give positive"):
        SpeedPerturbed(Pairs(speech_pair), [])


def test_a_config_written_before_speed_perturb_loads_without_it(tmp_path):
    import yaml

    from bssmask import recipe_config

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "asterisk2mix"
    old = recipe_config.load(recipe / "conf.yml")
    del old["training"]["speed_perturb"]
    (tmp_path / "old.yml").write_text(yaml.safe_dump(old))
    assert recipe_config.load(tmp_path / "old.yml")["training"]["speed_perturb"] == []
    del old["training"]["seed"]  # a key that was always there is still required
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(old))
    with pytest.raises(recipe_config.ConfigError, match="section training misses seed"):
        recipe_config.load(tmp_path / "bad.yml")


def test_speed_perturbation_refuses_mixtures_with_noise():
    from bssmask import recipe_config
    from bssmask.experiment.build import build_loaders

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "asterisk2mix"
    conf = recipe_config.load(recipe / "conf.yml")
    conf["training"]["speed_perturb"] = [0.9, 1.1]
    conf["data"]["task"] = "sep_noisy"
    with pytest.raises(recipe_config.ConfigError, match="speed_perturb: only for task sep_clean .*not sep_noisy"):
        build_loaders(conf)
