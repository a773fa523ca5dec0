"""Evaluation scoring without a corpus: per-mixture rows, PIT order, means, improvements, PESQ and STOI."""

import math

import numpy as np
import pytest
import torch
from pesq import pesq
from pystoi import stoi
from torch import nn

from bssmask import metrics
from bssmask.engine.callbacks import GatherRows
from bssmask.engine.scoring import EVAL_METRICS, score_separation
from bssmask.engine.system import SeparationSystem
from bssmask.experiment.evaluate import summarize


@pytest.fixture(scope="module")
def separated(speech_pair):
    """Two real sources [2, T], their mixture [T] and imperfect estimates [2, T] (float32, 8 kHz, 2 s)."""
    sources = speech_pair
    gen = torch.Generator().manual_seed(0)
    estimates = sources + 0.15 * sources.flip(0) + 0.01 * torch.randn(sources.shape, generator=gen)
    return sources, sources.sum(0), estimates


def _expected_row(sources, mixture, estimates):
    row = {}
    for prefix, est in (("", estimates), ("input_", mixture.expand_as(sources))):
        scores = metrics.separation_metrics(sources, est)
        for name in ("sdr", "si_sdr", "sir", "sar"):
            row[prefix + name] = scores[name].mean().item()
        ref_np, est_np = sources.double().numpy(), est.double().numpy()
        row[prefix + "pesq"] = np.mean([pesq(8000, r, e, "nb") for r, e in zip(ref_np, est_np)])
        row[prefix + "stoi"] = np.mean([stoi(r, e, 8000) for r, e in zip(ref_np, est_np)])
    return row


def test_score_separation_means_every_metric_over_sources(separated):
    sources, mixture, estimates = separated
    row = score_separation(mixture, sources, estimates, 8000)
    assert set(row) == set(EVAL_METRICS) | {f"input_{m}" for m in EVAL_METRICS}
    assert row == pytest.approx(_expected_row(sources, mixture, estimates), abs=1e-9)
    # The estimates are better than the mixture on every metric.
    for metric in ("sdr", "si_sdr", "sir", "pesq", "stoi"):
        assert row[metric] > row[f"input_{metric}"], metric
    # The mixture is a sum of the references: no artifacts (at float precision: the clamp, or well above 100 dB).
    assert row["input_sar"] > 100.0
    assert 1.0 < row["pesq"] < 4.6 and 0.8 < row["stoi"] <= 1.0


def test_score_separation_leaves_undefined_values_out_of_the_means(separated):
    sources, mixture, estimates = separated
    sources = sources.clone()
    sources[1] = 0  # a silent source: its SDR, SI-SDR, PESQ and STOI are undefined
    row = score_separation(sources[0], sources, estimates, 8000)
    alone = metrics.separation_metrics(sources[:1], estimates[:1])
    assert row["sdr"] == pytest.approx(alone["sdr"].item(), abs=1e-9)
    assert row["si_sdr"] == pytest.approx(alone["si_sdr"].item(), abs=1e-9)
    assert math.isnan(row["sir"]) and math.isnan(row["sar"])  # undefined for every source
    ref, est = sources[0].double().numpy(), estimates[0].double().numpy()
    assert row["pesq"] == pytest.approx(pesq(8000, ref, est, "nb"), abs=1e-9)
    assert row["stoi"] == pytest.approx(stoi(ref, est, 8000), abs=1e-9)
    # PESQ is defined at 8 and 16 kHz only; STOI resamples any rate.
    row = score_separation(mixture, separated[0], estimates, 11025)
    assert math.isnan(row["pesq"]) and math.isfinite(row["stoi"])


class _Fixed(nn.Module):
    """A "separator" returning fixed estimates ``[1, n_src, T]`` whatever the mixture."""

    sample_rate = 8000

    def __init__(self, estimates):
        super().__init__()
        self.estimates = estimates

    def forward(self, mixture):
        return self.estimates


def test_predict_step_reorders_estimates_by_pit(separated):
    sources, mixture, estimates = separated
    system = SeparationSystem(_Fixed(estimates.flip(0)[None]), None, None, None)
    batch = (mixture[None], sources[None], [("mix_7",), ("s1",)])
    (row,) = system.predict_step(batch, 0)
    assert row["mixture_ID"] == "mix_7_s1" and row["length"] == sources.shape[-1]
    expected = score_separation(mixture, sources, estimates, 8000)
    assert {k: row[k] for k in expected} == pytest.approx(expected, abs=1e-9)
    assert row["si_sdr"] > 10  # scored in the right order, not swapped
    with pytest.raises(ValueError, match="one mixture per batch"):
        system.predict_step((mixture[None].repeat(2, 1), sources[None].repeat(2, 1, 1), []), 0)


def test_summary_means_improvements_and_nan():
    def row(value, baseline):
        return {**{m: value for m in EVAL_METRICS}, **{f"input_{m}": baseline for m in EVAL_METRICS}}

    rows = [row(10.0, 1.0), row(6.0, 2.0), row(float("nan"), 3.0), {**row(2.0, 0.0), "pesq": float("nan")}]
    summary = summarize(rows, {"data": {}}, "exp/best_model.pth")
    assert summary["sdr"] == pytest.approx(6.0)  # (10 + 6 + 2) / 3, NaN left out
    assert summary["input_sdr"] == pytest.approx(1.5)
    assert summary["sdr_imp"] == pytest.approx((9 + 4 + 2) / 3)  # per-mixture improvements, NaN left out
    assert summary["pesq"] == pytest.approx(8.0) and summary["pesq_imp"] == pytest.approx((9 + 4) / 2)
    assert summary["n_mixtures"] == 4 and summary["model"] == "exp/best_model.pth"
    assert summary["config"] == {"data": {}}
    empty = summarize([row(float("nan"), float("nan"))], {}, "m")
    assert all(math.isnan(empty[k]) for k in ("sdr", "input_sdr", "sdr_imp"))


def test_gather_rows_keeps_each_mixture_once():
    gather = GatherRows()
    gather.on_predict_epoch_start(None, None)
    for rows in ([{"mixture_ID": "a", "sdr": 1.0}], [{"mixture_ID": "b", "sdr": 2.0}], [{"mixture_ID": "a", "sdr": 9.0}]):
        gather.on_predict_batch_end(None, None, rows, None, 0)
    gather.on_predict_epoch_end(None, None)
    assert gather.rows == [{"mixture_ID": "a", "sdr": 1.0}, {"mixture_ID": "b", "sdr": 2.0}]
