import math

import mir_eval
import numpy as np
import pytest
import torch

from bssmask import metrics


def _mixed_estimates(sources, leak, noise, seed):
    rng = np.random.default_rng(seed)
    s = sources.numpy().astype(np.float64)
    return s + leak * s[::-1] + noise * rng.standard_normal(s.shape)


@pytest.mark.parametrize("leak,noise,seed", [(0.3, 0.01, 0), (0.05, 0.05, 1), (0.8, 0.001, 2)])
def test_bss_eval_agrees_with_mir_eval(speech_pair, leak, noise, seed):
    ref = speech_pair[:, :12000].numpy().astype(np.float64)
    est = _mixed_estimates(speech_pair[:, :12000], leak, noise, seed)
    sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
    ours = metrics.bss_eval(ref, est)
    np.testing.assert_allclose(ours["sdr"].numpy(), sdr, atol=0.01)
    np.testing.assert_allclose(ours["sir"].numpy(), sir, atol=0.01)
    np.testing.assert_allclose(ours["sar"].numpy(), sar, atol=0.01)


def test_permutation_matches_mir_eval(speech_pair):
    ref = speech_pair[:, :12000].numpy().astype(np.float64)
    est = _mixed_estimates(speech_pair[:, :12000], 0.2, 0.01, 3)[::-1].copy()
    sdr, _, _, perm = mir_eval.separation.bss_eval_sources(ref, est)
    ours = metrics.bss_eval(ref, est, compute_permutation=True)
    assert list(perm) == [1, 0]
    np.testing.assert_allclose(ours["sdr"].numpy(), sdr, atol=0.01)


def test_batched_equals_one_by_one(speech_pair):
    ref = speech_pair[:, :8000].double()
    est = torch.stack([torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.1 * k, 0.01, k)) for k in range(3)])
    batched = metrics.separation_metrics(ref.expand_as(est), est)
    for k in range(3):
        single = metrics.separation_metrics(ref, est[k])
        for name in metrics.METRICS:
            assert torch.allclose(batched[name][k], single[name], atol=1e-6), name


def test_si_sdr_and_l1_values(speech_pair):
    ref = speech_pair[:, :8000].double()
    est = 0.5 * ref + 0.05 * ref.flip(0)
    expected = []
    for r, e in zip(ref, est):
        alpha = (e @ r) / (r @ r)
        target = alpha * r
        expected.append(10 * math.log10((target @ target) / ((e - target) @ (e - target))))
    assert torch.allclose(metrics.si_sdr(ref, est), torch.tensor(expected, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(metrics.l1(ref, est), (est - ref).abs().mean(-1))


def test_silent_reference_gives_nan_not_error(speech_pair):
    ref = speech_pair[:, :8000].double().clone()
    ref[1] = 0
    est = ref + 0.01 * torch.randn_like(ref)
    m = metrics.separation_metrics(ref, est)
    assert math.isnan(m["sdr"][1]) and math.isnan(m["si_sdr"][1])
    assert m["sdr"][0] > 20 and m["si_sdr"][0] > 20
    assert math.isnan(m["sir"][0]) and math.isnan(m["sar"][0])
    assert torch.isfinite(m["l1"]).all()


def test_exact_and_silent_estimates_are_clamped(speech_pair):
    ref = speech_pair[:, :8000].double()
    assert (metrics.bss_eval(ref, ref)["sdr"] > 120).all()
    assert (metrics.si_sdr(ref, torch.zeros_like(ref)) == -metrics.MAX_DB).all()


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="share a shape"):
        metrics.bss_eval(torch.randn(2, 100), torch.randn(2, 90))


def test_shared_reference_path_agrees_with_mir_eval(speech_pair):
    ref = speech_pair[:, :12000].double()
    est = torch.stack([torch.from_numpy(_mixed_estimates(speech_pair[:, :12000], leak, 0.02, k))
                       for k, leak in enumerate((0.05, 0.3, 0.7))])
    shared = metrics.separation_metrics(ref, est)  # ref [2, T] shared by est [3, 2, T]
    for k in range(3):
        sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(ref.numpy(), est[k].numpy(), compute_permutation=False)
        np.testing.assert_allclose(shared["sdr"][k].numpy(), sdr, atol=0.01)
        np.testing.assert_allclose(shared["sir"][k].numpy(), sir, atol=0.01)
        np.testing.assert_allclose(shared["sar"][k].numpy(), sar, atol=0.01)
        assert torch.allclose(shared["si_sdr"][k], metrics.si_sdr(ref, est[k]))
