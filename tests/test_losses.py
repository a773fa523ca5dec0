"""Losses: pairwise forms under PIT, zero at the oracle, and training every kind on real speech."""

import itertools

import pytest
import torch
from asteroid.losses import PITLossWrapper

from bssmask import heads, losses, masks
from bssmask.models import MaskSeparator


@pytest.fixture(scope="module")
def batch(speech_pair):
    """Two real 1 s mixtures of the bundled pair: sources [2, 2, 8000] and mixtures [2, 8000]."""
    sources = torch.stack([speech_pair[:, :8000], speech_pair[:, 8000:]])
    return sources, sources.sum(1)


PAIRWISE = [
    losses.pairwise_bce, losses.pairwise_mse, losses.pairwise_l1, losses.pairwise_complex_mse, losses.pairwise_msa
]


@pytest.mark.parametrize("fn", PAIRWISE, ids=lambda f: f.__name__)
def test_pairwise_matrix_and_pit_for_three_sources(fn):
    torch.manual_seed(0)
    est, target = torch.rand(4, 3, 20, 7), (torch.rand(4, 3, 20, 7) > 0.5).float()
    matrix = fn(est, target)
    assert matrix.shape == (4, 3, 3)
    torch.testing.assert_close(matrix[:, 1, 2], fn(est[:, [1]], target[:, [2]])[:, 0, 0])
    pit = PITLossWrapper(fn, pit_from="pw_mtx")
    order = [2, 0, 1]
    torch.testing.assert_close(pit(est, target), pit(est[:, order], target))
    best = torch.stack(
        [matrix[:, range(3), list(perm)].mean(-1) for perm in itertools.permutations(range(3))]
    ).min(0).values
    torch.testing.assert_close(pit(est, target), best.mean())
    assert pit(target, target) <= pit(est, target)


def _oracle_outputs(model, sources, mix):
    """What forward_masks would return if the head output its target exactly."""
    mix_tf = model.encoder(mix[:, None])
    target = model.head.target(model.encoder(sources), mix_tf)
    est_tf = masks.apply_tf(model.head.to_mask(target), mix_tf)
    est_wav = model.forward_decoder(est_tf)[..., : mix.shape[-1]]
    return {"mix_tf": mix_tf, "mask": target, "est_tf": est_tf, "est_wav": est_wav}


def test_signal_losses_vanish_at_the_exact_complex_mask(batch):
    sources, mix = batch
    model = MaskSeparator(mask="cirm", mask_options={"bound": None})
    outputs = _oracle_outputs(model, sources, mix)
    energy = losses.get("cspec")({**outputs, "est_tf": torch.zeros_like(outputs["est_tf"])}, sources, model)
    for name in ("mask_cmse", "mask_mse", "mask_l1", "msa", "psa", "cspec"):
        assert losses.get(name, model)(outputs, sources, model) < 1e-6 * energy.clamp_min(1.0), name
    assert losses.get("sisdr")(outputs, sources, model) < -80  # dB
    # Swapping the estimates changes nothing under PIT, everything without it.
    swapped = {k: v.flip(1) if v.dim() == 4 or k == "est_wav" else v for k, v in outputs.items()}
    assert losses.get("cspec")(swapped, sources, model) < 1e-6 * energy
    assert losses.get("cspec", pit=False)(swapped, sources, model) > 0.1 * energy


@pytest.mark.parametrize("kind", ["ibm", "irm", "wiener", "iam", "psm"])
def test_mask_losses_vanish_at_the_target(kind, batch):
    sources, mix = batch
    model = MaskSeparator(mask=kind)
    outputs = _oracle_outputs(model, sources, mix)
    name = losses.default_for(kind) if kind == "ibm" else "mask_mse"
    criterion = losses.get(name, model)
    assert criterion(outputs, sources, model) < 1e-6
    # Away from the target the loss is its formula, at the best permutation.
    target = outputs["mask"]
    low, high = model.head.kind.bounds
    guess = low + (high - low) * (0.25 + 0.5 * (target.flip(-1) - low) / (high - low))  # inside the bounds
    direct = DIRECT["pairwise_bce" if name == "mask_bce" else "pairwise_mse"]
    best = [min(direct(guess[b, perm], target[b]) for perm in ([0, 1], [1, 0])) for b in range(len(target))]
    loss = criterion({**outputs, "mask": guess}, sources, model)
    assert loss > 1e-3
    torch.testing.assert_close(loss, torch.stack(best).mean(), rtol=1e-5, atol=0)


def test_psa_is_erdogan_for_real_masks(batch):
    sources, mix = batch
    model = MaskSeparator(mask="psm")
    mix_tf, src_tf = model.encoder(mix[:, None]), model.encoder(sources)
    mask = torch.rand(2, 2, 128, mix_tf.shape[-1])
    Y, S = masks.from_asteroid(mix_tf).unsqueeze(1), masks.from_asteroid(src_tf)
    erdogan = (mask * Y.abs() - S.abs() * torch.cos(S.angle() - Y.angle())).square().mean((-2, -1))
    est_tf = masks.apply_tf(mask, mix_tf)
    psa = losses.pairwise_psa(est_tf, src_tf, mix_tf).diagonal(dim1=1, dim2=2)
    torch.testing.assert_close(psa, erdogan, rtol=1e-4, atol=1e-6)


def test_finite_gradients_at_saturation_and_silence():
    est = torch.tensor([0.0, 1.0, 0.5, 1e-30]).reshape(1, 2, 2, 1).requires_grad_(True)
    target = torch.tensor([1.0, 0.0, 1.0, 0.0]).reshape(1, 2, 2, 1)
    loss = PITLossWrapper(losses.pairwise_bce, pit_from="pw_mtx")(est, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(est.grad).all()
    silent = torch.zeros(1, 2, 8, 3, requires_grad=True)  # an all-zero estimate and mixture
    for fn in (losses.pairwise_msa, losses.pairwise_complex_mse):
        fn(silent, torch.randn(1, 2, 8, 3)).sum().backward()
    losses.pairwise_psa(silent, torch.randn(1, 2, 8, 3), torch.zeros(1, 8, 3)).sum().backward()
    assert torch.isfinite(silent.grad).all()


def test_get_checks_the_kind_and_defaults():
    assert set(losses.LOSSES) == {
        "mask_bce", "mask_mse", "mask_l1", "mask_cmse", "msa", "psa", "cspec", "sisdr"
    }
    with pytest.raises(ValueError, match="trains ibm masks, not 'irm'"):
        losses.get("mask_bce", "irm")
    with pytest.raises(ValueError, match="trains cirm masks"):
        losses.get("mask_cmse", MaskSeparator(mask="psm"))
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("mse")
    expected = {
        "ibm": "mask_bce", "irm": "mask_mse", "wiener": "mask_mse", "iam": "mask_mse", "psm": "psa", "cirm": "cspec"
    }
    assert {kind: losses.default_for(kind) for kind in masks.KINDS} == expected
    assert losses.default_for(MaskSeparator(mask="cirm", mask_options={"bound": "compressed"})) == "mask_cmse"


# Every kind, every loss: (kind, head options, loss).
TRAINING = [
    ("ibm", {}, "mask_bce"),
    ("irm", {"activation": "softmax"}, "mask_mse"),
    ("wiener", {}, "msa"),
    ("iam", {}, "mask_l1"),
    ("psm", {}, "psa"),
    ("cirm", {"bound": "compressed"}, "mask_cmse"),
    ("cirm", {"bound": "tanh"}, "cspec"),
    ("cirm", {"bound": "sigmoid"}, "sisdr"),
]


@pytest.mark.parametrize("kind,options,loss_name", TRAINING, ids=[f"{k}-{name}" for k, _, name in TRAINING])
def test_training_lowers_the_loss_on_real_speech(kind, options, loss_name, batch):
    sources, mix = batch
    torch.manual_seed(0)
    model = MaskSeparator(n_src=2, mask=kind, masker="dprnn", mask_options=options)
    criterion = losses.get(loss_name, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def evaluate():
        with torch.no_grad():
            return criterion(model.forward_masks(mix), sources, model).item()

    before = evaluate()
    for _ in range(60):
        loss = criterion(model.forward_masks(mix), sources, model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluate()
    if loss_name == "sisdr":  # negative SI-SDR in dB
        assert after < before - 5, (before, after)
    else:
        assert after < 0.7 * before, (before, after)


def _loop_matrix(per_pair, est, target):
    """``[B, n, n]`` of ``per_pair(est[b, i], target[b, j])``, one pair at a time."""
    B, n = est.shape[:2]
    return torch.tensor([[[float(per_pair(est[b, i], target[b, j])) for j in range(n)] for i in range(n)]
                         for b in range(B)], dtype=est.dtype)


def _complex(tf):
    F = tf.shape[-2] // 2
    return torch.complex(tf[..., :F, :], tf[..., F:, :])


DIRECT = {
    "pairwise_bce": lambda z, t: -(t * z.log() + (1 - t) * (1 - z).log()).mean(),
    "pairwise_mse": lambda z, t: ((z - t) ** 2).mean(),
    "pairwise_l1": lambda z, t: (z - t).abs().mean(),
    "pairwise_complex_mse": lambda z, t: (_complex(z) - _complex(t)).abs().square().mean(),
    "pairwise_msa": lambda z, t: (_complex(z).abs() - _complex(t).abs()).square().mean(),
}


@pytest.mark.parametrize("name", DIRECT)
def test_pairwise_losses_against_a_direct_computation(name):
    gen = torch.Generator().manual_seed(1)
    est = torch.rand(2, 3, 8, 5, generator=gen, dtype=torch.float64) * 0.9 + 0.05  # probabilities in (0, 1)
    target = torch.rand(2, 3, 8, 5, generator=gen, dtype=torch.float64)
    if name == "pairwise_bce":
        target = (target > 0.5).double()
    else:
        est, target = 4 * est - 2, 3 * target - 1  # signed values
    got = getattr(losses, name)(est, target)
    torch.testing.assert_close(got, _loop_matrix(DIRECT[name], est, target), rtol=1e-12, atol=1e-12)
    assert got.min() > 0.01  # a prediction that is not the target


def test_psa_against_a_direct_computation():
    gen = torch.Generator().manual_seed(2)
    est, src = torch.randn(2, 3, 8, 5, generator=gen, dtype=torch.float64), torch.randn(2, 3, 8, 5, generator=gen,
                                                                                         dtype=torch.float64)
    mix = torch.randn(2, 8, 5, generator=gen, dtype=torch.float64)
    mix[0, :, 0] = 0  # a silent mixture frame: projection 0 there
    Y = _complex(mix)

    def project(x, y):
        out = (x * y.conj()).real / y.abs()
        return torch.where(y.abs() > 0, out, torch.zeros_like(out))

    expected = torch.stack([_loop_matrix(lambda e, s, b=b: (project(_complex(e), Y[b]) - project(_complex(s), Y[b]))
                                         .square().mean(), est[b:b + 1], src[b:b + 1])[0] for b in range(2)])
    torch.testing.assert_close(losses.pairwise_psa(est, src, mix), expected, rtol=1e-12, atol=1e-12)


def _untrained_outputs(kind, mix):
    """A small untrained separator of ``kind`` and its ``forward_masks`` outputs on ``mix`` (not the targets)."""
    torch.manual_seed(0)
    model = MaskSeparator(mask=kind, masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    with torch.no_grad():
        return model, model.forward_masks(mix)


def test_criterion_value_is_the_best_permutation_of_a_direct_computation(batch):
    sources, mix = batch
    model, outputs = _untrained_outputs("irm", mix)
    with torch.no_grad():
        target = model.head.target(model.encoder(sources), outputs["mix_tf"])
        mse = losses.get("mask_mse", model)(outputs, sources, model)
        fixed = losses.get("mask_mse", model, pit=False)(outputs, sources, model)
        swapped = losses.get("mask_mse", model, pit=False)({**outputs, "mask": outputs["mask"].flip(1)}, sources, model)
    per_item = [((outputs["mask"][:, perm] - target) ** 2).mean((1, 2, 3)) for perm in ([0, 1], [1, 0])]
    torch.testing.assert_close(mse, torch.minimum(*per_item).mean())
    torch.testing.assert_close(fixed, per_item[0].mean())
    torch.testing.assert_close(swapped, per_item[1].mean())
    assert mse > 1e-3 and (per_item[0] - per_item[1]).abs().max() > 1e-6


def test_psa_criterion_without_pit_is_the_in_order_direct_loss(batch):
    sources, mix = batch
    model, outputs = _untrained_outputs("psm", mix)
    with torch.no_grad():
        fixed = losses.get("psa", model, pit=False)(outputs, sources, model)
        src_tf = model.encoder(sources)
    matrix = losses.pairwise_psa(outputs["est_tf"], src_tf, outputs["mix_tf"])
    torch.testing.assert_close(fixed, matrix.diagonal(dim1=1, dim2=2).mean())
    assert fixed > 1e-4


def test_loss_errors_name_the_argument():
    names = "mask_bce, mask_mse, mask_l1, mask_cmse, msa, psa, cspec, sisdr"
    for call, message in (
        (lambda: losses.get("mse"), f"unknown loss 'mse'; choose from {names}"),
        (lambda: losses.Criterion("mse"), f"unknown loss 'mse'; choose from {names}"),
        (lambda: losses.pairwise_mse(torch.ones(2, 3, 4), torch.ones(2, 3, 5)),
         "est and target must share a [B, n_src, ...] shape, got (2, 3, 4) and (2, 3, 5)"),
        (lambda: losses.pairwise_mse(torch.ones(2, 3), torch.ones(2, 3)),
         "est and target must share a [B, n_src, ...] shape, got (2, 3) and (2, 3)"),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    with pytest.raises(TypeError) as err:
        losses.default_for(3.5)
    assert str(err.value) == "expected a model with a head, a MaskHead, a MaskKind or a kind name, got float"
    # Three-dim inputs [B, n_src, X] are valid; a head or a kind work like a model.
    assert losses.pairwise_mse(torch.zeros(2, 3, 4), torch.ones(2, 3, 4)).shape == (2, 3, 3)
    head = heads.get("cirm", 8, 4, 2, bound="compressed")
    assert losses.default_for(head) == "mask_cmse" and losses.default_for(masks.get("psm")) == "psa"
