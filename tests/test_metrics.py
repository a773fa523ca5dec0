import json
import math
import subprocess
import sys

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


def test_bss_eval_ignores_a_common_scale(speech_pair):
    ref = speech_pair[:, :8000].double()
    est = torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.2, 0.01, 6))
    loud = metrics.bss_eval(ref, est)
    quiet = metrics.bss_eval(1e-3 * ref, 1e-3 * est)  # reference energies far below 1
    for name in ("sdr", "sir", "sar"):
        torch.testing.assert_close(quiet[name], loud[name], rtol=0, atol=1e-6)
    assert (1e-3 * ref).pow(2).sum(-1).max() < 1


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
    exact = metrics.bss_eval(ref, ref)
    for name in ("sdr", "sir", "sar"):
        assert torch.isfinite(exact[name]).all() and (exact[name] > 120).all() and (exact[name] <= metrics.MAX_DB).all()
    # An exact estimate is an infinite ratio, clamped to MAX_DB; a silent one is -MAX_DB.
    assert torch.equal(metrics.si_sdr(ref, ref), torch.full((2,), metrics.MAX_DB, dtype=torch.float64))
    assert torch.equal(metrics.si_sdr(ref, 3 * ref), torch.full((2,), metrics.MAX_DB, dtype=torch.float64))
    assert torch.equal(metrics.si_sdr(ref, torch.zeros_like(ref)), torch.full((2,), -metrics.MAX_DB, dtype=torch.float64))
    shared = metrics.bss_eval(ref, torch.stack([ref, ref.flip(0)]))  # the shared-reference path
    assert torch.isfinite(shared["sdr"]).all() and shared["sdr"].max() == metrics.MAX_DB
    assert shared["sdr"][1].max() < 0  # swapped estimates score low


def test_si_sdr_agrees_with_torchmetrics_on_random_and_real_signals(speech_pair):
    from torchmetrics.functional import scale_invariant_signal_distortion_ratio

    gen = torch.Generator().manual_seed(0)
    random_ref = torch.randn(4, 3, 2000, generator=gen, dtype=torch.float64)
    random_est = 0.7 * random_ref + 0.4 * torch.randn(4, 3, 2000, generator=gen, dtype=torch.float64)
    real_ref = speech_pair[:, :8000].double()
    real_est = 0.5 * real_ref + 0.2 * real_ref.flip(0) + 0.01 * torch.randn(2, 8000, generator=gen, dtype=torch.float64)
    for ref, est in ((random_ref, random_est), (real_ref, real_est)):
        expected = scale_invariant_signal_distortion_ratio(est, ref, zero_mean=False)
        torch.testing.assert_close(metrics.si_sdr(ref, est), expected, rtol=0, atol=1e-6)
        assert expected.std() > 0.1  # distinct values per source, not one repeated number


def test_bss_eval_agrees_with_mir_eval_on_random_signals_with_three_sources():
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((3, 6000))
    mixing = np.array([[1.0, 0.3, 0.1], [0.2, 1.0, 0.4], [0.05, 0.5, 1.0]])
    est = mixing @ ref + 0.1 * rng.standard_normal((3, 6000))
    sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
    ours = metrics.bss_eval(ref, est)
    for name, expected in (("sdr", sdr), ("sir", sir), ("sar", sar)):
        np.testing.assert_allclose(ours[name].numpy(), expected, atol=0.01, err_msg=name)
    assert len(set(np.round(sdr, 1))) == 3


def test_spd_solve_matches_the_lu_solution_and_falls_back_on_singular_systems():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 40, 40, generator=gen, dtype=torch.float64)
    spd = a @ a.mT + 0.1 * torch.eye(40, dtype=torch.float64)
    rhs = torch.randn(3, 40, 5, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(metrics.spd_solve(spd, rhs), torch.linalg.solve(spd, rhs))
    torch.testing.assert_close(metrics.spd_solve(spd, rhs[..., 0]), torch.linalg.solve(spd, rhs[..., 0]))
    # A rank-2 matrix (the correlation matrix of one pure tone): the minimum-norm solution.
    tone = torch.cos(0.3 * torch.arange(40, dtype=torch.float64))
    singular = spd.clone()
    singular[1] = torch.outer(tone, tone) + torch.outer(tone.roll(1), tone.roll(1))
    solution = metrics.spd_solve(singular, rhs)
    torch.testing.assert_close(solution[1], torch.linalg.pinv(singular[1]) @ rhs[1])
    torch.testing.assert_close(solution[0], torch.linalg.solve(spd[0], rhs[0]))


# Scores BSS-Eval (per-item and shared-reference paths, a silent reference)
# after torch.set_num_threads(n); prints them as JSON.
THREADED_BSS_EVAL = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from bssmask import metrics
ref, est = torch.load(sys.argv[2])
silent = ref.clone()
silent[1] = 0
out = {"one": metrics.separation_metrics(ref, est), "shared": metrics.separation_metrics(ref, est[None].repeat(2, 1, 1)),
       "silent": metrics.separation_metrics(silent, est)}
print(json.dumps({k: {m: v.tolist() for m, v in d.items()} for k, d in out.items()}))
"""


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_bss_eval_is_right_with_any_thread_count(speech_pair, threads, tmp_path):
    # torch 2.9's MKL LU solve fails ("Pivots given to lu_solve") or hangs with more than one thread.
    ref = speech_pair[:, :8000].double()
    est = torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.3, 0.01, 5))
    torch.save((ref, est), tmp_path / "signals.pt")
    proc = subprocess.run([sys.executable, "-c", THREADED_BSS_EVAL, str(threads), str(tmp_path / "signals.pt")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(ref.numpy(), est.numpy(), compute_permutation=False)
    for name, expected in (("sdr", sdr), ("sir", sir), ("sar", sar)):
        np.testing.assert_allclose(got["one"][name], expected, atol=0.01, err_msg=name)
        np.testing.assert_allclose(got["shared"][name], [expected, expected], atol=0.01, err_msg=name)
    alone = mir_eval.separation.bss_eval_sources(ref.numpy()[:1], est.numpy()[:1])[0]
    np.testing.assert_allclose(got["silent"]["sdr"][0], alone[0], atol=0.01)
    assert math.isnan(got["silent"]["sdr"][1])


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


def test_silent_reference_items_are_scored_in_order_and_exact_estimates_clamped(speech_pair):
    gen = torch.Generator().manual_seed(3)
    ref = torch.cat([speech_pair[:, :8000].double(), torch.zeros(1, 8000, dtype=torch.float64)])[[0, 2, 1]]
    noise = 0.01 * torch.randn(8000, generator=gen, dtype=torch.float64)
    est = torch.stack([ref[0], noise, ref[2] + noise])  # an exact estimate next to a silent reference
    m = metrics.bss_eval(ref, est)
    assert m["sdr"][0] == metrics.MAX_DB and math.isnan(m["sdr"][1])
    expected = mir_eval.separation.bss_eval_sources(ref[2:].numpy(), est[2:].numpy())[0][0]
    assert m["sdr"][2].item() == pytest.approx(expected, abs=0.01)
    swapped = est[[2, 1, 0]]
    in_order = metrics.bss_eval(ref, swapped)["sdr"]
    assert in_order[0] < 0 and in_order[2] < 0  # scored as given, not permuted
    permuted = metrics.bss_eval(ref, swapped, compute_permutation=True)["sdr"]
    assert permuted[0] == metrics.MAX_DB and permuted[2].item() == pytest.approx(expected, abs=0.01)
    # The mixture as estimate when the other source is silent: the input baseline of an evaluation.
    pair = torch.stack([ref[0], torch.zeros_like(ref[0])])
    assert metrics.separation_metrics(pair, pair[0].expand(2, -1))["sdr"][0] == metrics.MAX_DB


def test_si_sdr_edge_cases_by_value():
    ref = torch.tensor([[1.0, 0, 0, 0], [1, 2, 0, 0]], dtype=torch.float64)  # energies 1 and 5
    # Orthogonal estimate: no target part at all, -inf clamped to -MAX_DB (not NaN).
    orthogonal = torch.tensor([[0.0, 1, 0, 0], [1, -1, 0, 0]], dtype=torch.float64)
    got = metrics.si_sdr(ref, orthogonal)
    assert got[0] == -metrics.MAX_DB
    # [1, -1] on [1, 2]: a = -1/5, target [-0.2, -0.4], residual [1.2, -0.6].
    assert got[1].item() == pytest.approx(10 * math.log10(0.2 / 1.8), abs=1e-12)
    # One silent estimate next to a good one.
    mixed = metrics.si_sdr(ref, torch.stack([torch.zeros(4, dtype=torch.float64), ref[1]]))
    assert mixed[0] == -metrics.MAX_DB and mixed[1] == metrics.MAX_DB


def test_coherence_to_db_clamps_rounding_and_extremes():
    coherence = torch.tensor([-1e-17, 0.0, 0.5, 0.9, 1.0, 1 + 1e-15], dtype=torch.float64)
    expected = torch.tensor([-300.0, -300.0, 0.0, 10 * math.log10(9), 300.0, 300.0], dtype=torch.float64)
    torch.testing.assert_close(metrics._coherence_db(coherence), expected, rtol=0, atol=1e-9)


def test_spd_solve_broadcasts_like_torch_solve_and_reference_shapes_are_checked():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(3, 4, 4, generator=gen, dtype=torch.float64)
    spd = a @ a.mT + torch.eye(4, dtype=torch.float64)
    shared_rhs = torch.randn(4, 3, generator=gen, dtype=torch.float64)  # [n, k] for every matrix (not [3, 4])
    torch.testing.assert_close(metrics.spd_solve(spd, shared_rhs), torch.linalg.solve(spd, shared_rhs))
    one_matrix = metrics.spd_solve(spd[0], torch.randn(2, 4, 3, generator=gen, dtype=torch.float64))
    assert one_matrix.shape == (2, 4, 3)
    with pytest.raises(ValueError, match=r"share a shape \[..., n_src, T\]; got \(2, 100\) and \(3, 2, 90\)"):
        metrics.bss_eval(torch.randn(2, 100), torch.randn(3, 2, 90))


def test_estimates_are_scored_in_the_given_order_unless_asked_to_permute(speech_pair):
    ref = speech_pair[:, :8000].double()
    est = torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.1, 0.01, 7))
    swapped = est.flip(0)
    good = metrics.bss_eval(ref, est)["sdr"]
    for ref_, est_ in ((ref, swapped), (ref[None].repeat(2, 1, 1), swapped[None].repeat(2, 1, 1)),
                       (ref, swapped[None].repeat(2, 1, 1))):  # one item, a batch, a shared reference
        in_order = metrics.bss_eval(ref_, est_)["sdr"]
        assert (in_order < 0).all(), in_order
        permuted = metrics.bss_eval(ref_, est_, compute_permutation=True)["sdr"]
        torch.testing.assert_close(permuted, good.expand_as(permuted), rtol=0, atol=0.01)  # per reference
    # A silent reference and an exact estimate of the other source, with permutation asked for.
    pair = torch.stack([ref[0], torch.zeros_like(ref[0])])
    assert metrics.bss_eval(pair, pair[0].expand(2, -1), compute_permutation=True)["sdr"][0] == metrics.MAX_DB


def test_a_shared_reference_with_a_silent_source_is_scored_item_by_item(speech_pair):
    ref = torch.stack([speech_pair[0, :8000].double(), torch.zeros(8000, dtype=torch.float64)])
    est = torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.1, 0.01, 8))[None].repeat(2, 1, 1)
    shared = metrics.bss_eval(ref, est)  # ref [2, T] for est [2, 2, T]
    per_item = metrics.bss_eval(ref[None].repeat(2, 1, 1), est)
    for name in ("sdr", "sir", "sar"):
        torch.testing.assert_close(shared[name], per_item[name], equal_nan=True)
    assert torch.isfinite(shared["sdr"][:, 0]).all() and shared["sdr"][:, 1].isnan().all()
    assert shared["sir"].isnan().all() and shared["sar"].isnan().all()


def test_sdr_alone_equals_mir_eval_sdr_shared_or_per_item_with_silent_and_exact_sources(speech_pair):
    ref = speech_pair[:, :12000].double()
    est = torch.stack([torch.from_numpy(_mixed_estimates(speech_pair[:, :12000], 0.15 * k, 0.02, k))
                       for k in range(3)])
    expected = [mir_eval.separation.bss_eval_sources(ref.numpy(), e.numpy(), compute_permutation=False)[0]
                for e in est]
    np.testing.assert_allclose(metrics.sdr(ref, est).numpy(), expected, atol=0.01)  # shared references
    np.testing.assert_allclose(metrics.sdr(ref.expand_as(est), est).numpy(), expected, atol=0.01)  # per item
    # A silent reference gives NaN; the full BSS-Eval SDR agrees, and both put an exact estimate above
    # 100 dB (where float64 rounding, not the estimate, sets the value).
    quiet = ref.clone()
    quiet[1] = 0
    both = torch.stack([est[0], ref])
    for reference in (quiet, ref):
        alone, full = metrics.sdr(reference, both), metrics.bss_eval(reference, both)["sdr"]
        torch.testing.assert_close(alone[0], full[0], equal_nan=True, rtol=0, atol=1e-6)
        assert torch.equal(alone[1].isnan(), full[1].isnan()) and (alone[1].nan_to_num(200) > 100).all()
        assert (full[1].nan_to_num(200) > 100).all()
    assert torch.isnan(metrics.sdr(quiet, both)[:, 1]).all()


def test_separation_metrics_computes_only_what_is_asked(speech_pair, monkeypatch):
    ref = speech_pair[:, :8000].double()
    est = torch.from_numpy(_mixed_estimates(speech_pair[:, :8000], 0.2, 0.01, 4))[None]
    full = metrics.separation_metrics(ref, est)
    monkeypatch.setattr(metrics, "bss_eval", lambda *a, **k: pytest.fail("SIR/SAR projections computed"))
    some = metrics.separation_metrics(ref, est, ("sdr", "si_sdr"))
    assert list(some) == ["sdr", "si_sdr"]
    for name in some:
        torch.testing.assert_close(some[name], full[name], rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="unknown metric 'pesq'; choose from sdr, si_sdr, sir, sar, l1"):
        metrics.separation_metrics(ref, est, ("sdr", "pesq"))
