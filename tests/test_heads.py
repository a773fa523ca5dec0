"""Heads: range and format of every kind, finite gradients at extreme inputs, targets from bssmask.masks."""

import math

import pytest
import torch
from asteroid.complex_nn import bound_complex_mask

from bssmask import heads, masks
from bssmask.stft import make_stft

N_FREQ, N_SRC = 128, 2

# (kind, options): every head and every option that changes its range.
CONFIGS = [
    ("ibm", {}),
    ("ibm", {"activation": "softmax", "hard": "argmax"}),
    ("irm", {}),
    ("irm", {"activation": "softmax"}),
    ("wiener", {}),
    ("iam", {"max": 2.0}),
    ("psm", {}),
    ("psm", {"min": -1.0, "max": 1.0}),
    ("cirm", {"bound": "tanh"}),
    ("cirm", {"bound": "sigmoid"}),
    ("cirm", {"bound": "compressed", "K": 10.0, "C": 0.1}),
    ("cirm", {"bound": None}),
]


def _rows(kind):
    return 2 * N_FREQ if masks.get(kind).is_complex else N_FREQ


@pytest.fixture(scope="module")
def speech_tf(speech_pair):
    """Asteroid spectra of the bundled pair: sources [1, 2, 2F, T'] and their sum [1, 2F, T'] (F = 128)."""
    encoder, _ = make_stft(254, 64)
    return encoder(speech_pair[None]), encoder(speech_pair.sum(0)[None, None])


@pytest.mark.parametrize("kind,options", CONFIGS)
def test_range_and_format(kind, options):
    torch.manual_seed(0)
    head = heads.get(kind, _rows(kind), N_FREQ, N_SRC, **options)
    features = 10 * torch.randn(3, N_SRC, _rows(kind), 40)
    z = head.predict(features)
    mask = head(features)
    assert z.shape == mask.shape == (3, N_SRC, _rows(kind), 40)
    if kind == "cirm":
        bound = head.bound_type
        re, im = z.chunk(2, dim=-2)
        if bound == "tanh":
            assert torch.hypot(re, im).max() <= 1 + 1e-6
        elif bound == "sigmoid":
            assert z.min() >= 0 and z.max() <= 1
        elif bound == "compressed":
            assert z.abs().max() < head.K
            torch.testing.assert_close(mask, masks.decompress_cirm(z, head.K, head.C))
        else:
            assert torch.equal(z, features)
        return
    low, high = head.kind.bounds
    assert z.min() >= low and z.max() <= high
    assert z.min() < low + 0.1 * (high - low) and z.max() > high - 0.1 * (high - low)  # range is used
    if options.get("activation") == "softmax":
        torch.testing.assert_close(z.sum(1), torch.ones_like(z.sum(1)))
    if kind == "ibm":
        assert torch.equal(mask, z)  # probabilities in training
        hard = head.eval()(features)
        assert set(hard.unique().tolist()) <= {0.0, 1.0}
        if options.get("hard") == "argmax":
            assert torch.equal(hard.sum(1), torch.ones_like(hard.sum(1)))
        else:
            assert torch.equal(hard, (z > 0.5).float())


@pytest.mark.parametrize("kind,options", CONFIGS)
@pytest.mark.parametrize("project", [False, True], ids=["direct", "projected"])
def test_finite_at_extreme_inputs(kind, options, project):
    in_chan = _rows(kind) + (7 if project else 0)
    head = heads.get(kind, in_chan, N_FREQ, N_SRC, **options)
    assert isinstance(head.proj, torch.nn.Conv1d) == project
    for value in (0.0, 1e30, -1e30):
        features = torch.full((2, N_SRC, in_chan, 5), value)
        features[..., 1] = -features[..., 1]  # mixed signs in one batch
        features[..., 2] = 0.0
        features.requires_grad_(True)
        out = head(features)
        (out.sum() + head.predict(features).mean()).backward()
        assert torch.isfinite(out).all(), (kind, options, value)
        assert torch.isfinite(features.grad).all(), (kind, options, value)
        for param in head.parameters():
            assert torch.isfinite(param.grad).all()
            param.grad = None


@pytest.mark.parametrize("kind,options", CONFIGS)
def test_target_is_the_oracle_in_the_head_range(kind, options, speech_tf):
    src_tf, mix_tf = speech_tf
    head = heads.get(kind, _rows(kind), N_FREQ, N_SRC, **options)
    target = head.target(src_tf, mix_tf)
    oracle = head.kind.oracle_tf(src_tf, mix_tf)
    assert target.shape == oracle.shape == (1, N_SRC, _rows(kind), src_tf.shape[-1])
    assert torch.isfinite(target).all()
    if kind != "cirm":
        assert torch.equal(target, oracle)
        return
    bound = head.bound_type
    if bound == "compressed":
        assert target.abs().max() <= head.K
        typical = oracle.abs() < 20  # float32 tanh saturates beyond
        restored = masks.decompress_cirm(target, head.K, head.C)
        torch.testing.assert_close(restored[typical], oracle[typical], rtol=1e-3, atol=1e-3)
    elif bound == "tanh":
        mag = masks.from_asteroid(target).abs()
        assert mag.max() <= 1 + 1e-6
        inside = masks.from_asteroid(oracle).abs() <= 1
        assert torch.equal(masks.from_asteroid(target)[inside], masks.from_asteroid(oracle)[inside])
    elif bound == "sigmoid":
        assert target.min() >= 0 and target.max() <= 1
    else:
        assert torch.equal(target, oracle)


def test_compression_has_an_exact_inverse(speech_tf):
    src_tf, mix_tf = speech_tf
    oracle = masks.get("cirm").oracle(masks.from_asteroid(src_tf), masks.from_asteroid(mix_tf))
    typical = oracle[oracle.abs() < 20]
    compressed = masks.compress_cirm(typical.to(torch.complex128))
    torch.testing.assert_close(masks.decompress_cirm(compressed), typical.to(torch.complex128))
    x = torch.linspace(-30, 30, 61)
    # K (1 - e^{-Cx}) / (1 + e^{-Cx}), the published form
    published = 10 * (1 - torch.exp(-0.1 * x)) / (1 + torch.exp(-0.1 * x))
    torch.testing.assert_close(masks.compress_cirm(x), published)
    assert torch.isfinite(masks.decompress_cirm(torch.tensor([-10.0, 10.0, 1e30]))).all()
    with pytest.raises(ValueError, match="K > 0 and C > 0"):
        masks.compress_cirm(x, K=0)


@pytest.mark.parametrize("bound", ["tanh", "sigmoid"])
def test_complex_bounds_match_asteroid_dcunet(bound):
    torch.manual_seed(0)
    head = heads.get("cirm", 2 * N_FREQ, N_FREQ, N_SRC, bound=bound)
    features = 3 * torch.randn(2, N_SRC, 2 * N_FREQ, 30)
    expected = bound_complex_mask(masks.from_asteroid(features), bound)
    torch.testing.assert_close(masks.from_asteroid(head(features)), expected, rtol=1e-5, atol=1e-5)


def test_registry_and_errors():
    assert set(heads.HEADS) == set(masks.KINDS)
    assert heads.get("ibm", 128, 128, 2, against="rest").kind.against == "rest"
    assert heads.get(masks.get("iam", max=3.0), 128, 128, 2).kind.bounds == (0.0, 3.0)
    with pytest.raises(ValueError, match="unknown mask kind"):
        heads.get("foo", 128, 128, 2)
    with pytest.raises(ValueError, match="bad options"):
        heads.get("irm", 128, 128, 2, bound="tanh")
    with pytest.raises(ValueError, match="activation"):
        heads.get("irm", 128, 128, 2, activation="relu")
    with pytest.raises(ValueError, match="unknown cirm bound"):
        heads.get("cirm", 256, 128, 2, bound="cube")
    with pytest.raises(ValueError, match="K > 0"):
        heads.get("cirm", 256, 128, 2, bound="compressed", K=-1)
    with pytest.raises(ValueError, match=r"expects features \[B, 2, 128, T\]"):
        heads.get("irm", 128, 128, 2)(torch.zeros(1, 3, 128, 4))


def _two_source_tf():
    """Asteroid spectra with hand-picked cIRMs: sources [1, 2, 2F, 1] and mixture [1, 2F, 1] (F = 3).

    Bins: S = (3, 4j) (cIRM (0.36 - 0.48j, 0.64 + 0.48j)); S = (2, -1) (cIRM (2, -1));
    S = (1.5 + 1.5j, -0.5 - 0.5j) (cIRM (1.5, -0.5), parts beyond 1 and below 0).
    """
    S = torch.tensor([[3, 2, 1.5 + 1.5j], [4j, -1, -0.5 - 0.5j]], dtype=torch.complex128)[None, ..., None]
    return masks.to_asteroid(S), masks.to_asteroid(S.sum(1))


CIRM = torch.tensor([[0.36 - 0.48j, 2, 1.5], [0.64 + 0.48j, -1, -0.5]], dtype=torch.complex128)


@pytest.mark.parametrize(
    "bound,expected",
    [
        ("none", CIRM),
        # magnitude clipped to 1, phase kept
        ("tanh", torch.tensor([[0.36 - 0.48j, 1, 1], [0.64 + 0.48j, -1, -0.5]], dtype=torch.complex128)),
        # real and imaginary parts clamped to [0, 1] each
        ("sigmoid", torch.tensor([[0.36, 1, 1], [0.64 + 0.48j, 0, 0]], dtype=torch.complex128)),
        ("compressed", torch.complex(10 * torch.tanh(0.05 * CIRM.real), 10 * torch.tanh(0.05 * CIRM.imag))),
    ],
)
def test_cirm_targets_by_value(bound, expected):
    src_tf, mix_tf = _two_source_tf()
    head = heads.get("cirm", 6, 3, 2, bound=bound)
    target = masks.from_asteroid(head.target(src_tf, mix_tf))[0, ..., 0]
    torch.testing.assert_close(target, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "kind,options,low,high",
    [("irm", {}, 0.0, 1.0), ("iam", {"max": 2.0}, 0.0, 2.0), ("psm", {"min": -1.0, "max": 3.0}, -1.0, 3.0)],
)
def test_real_bounds_by_value(kind, options, low, high):
    head = heads.get(kind, 3, 3, 2, **options)
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4
    x = torch.tensor([0.0, math.log(3), -math.log(3)], dtype=torch.float64).reshape(1, 1, 3, 1).repeat(1, 2, 1, 1)
    expected = low + (high - low) * torch.tensor([0.5, 0.75, 0.25], dtype=torch.float64)
    torch.testing.assert_close(head.double()(x)[0, 0, :, 0], expected, rtol=0, atol=1e-12)
    softmax = heads.get(kind, 3, 3, 2, activation="softmax", **options).double()
    pair = torch.stack([x[:, 0], torch.zeros_like(x[:, 0])], 1)  # logits (x, 0): softmax = sigmoid(x)
    torch.testing.assert_close(softmax(pair)[0, 0, :, 0], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(softmax(pair)[0, 1, :, 0], low + high - expected, rtol=0, atol=1e-12)


def test_complex_bounds_and_hard_masks_by_value():
    # x = 3 + 4j (|x| = 5), x = 0.3 - 0.4j (|x| = 0.5), x = 0
    x = torch.tensor([[3, 0.3 - 0.4j, 0]], dtype=torch.complex128).reshape(1, 1, 3, 1).repeat(1, 2, 1, 1)
    features = masks.to_asteroid(x)
    z = {bound: masks.from_asteroid(heads.get("cirm", 6, 3, 2, bound=bound).double().predict(features))[0, 0, :, 0]
         for bound in ("tanh", "sigmoid", "compressed")}
    torch.testing.assert_close(z["tanh"], torch.tensor([math.tanh(3), math.tanh(0.5) * (0.6 - 0.8j), 0],
                                                       dtype=torch.complex128), rtol=0, atol=1e-12)
    sig = torch.sigmoid
    parts = torch.tensor([3, 0.3, 0.0], dtype=torch.float64), torch.tensor([0, -0.4, 0.0], dtype=torch.float64)
    torch.testing.assert_close(z["sigmoid"], torch.complex(sig(parts[0]), sig(parts[1])), rtol=0, atol=1e-12)
    torch.testing.assert_close(z["compressed"], torch.complex(10 * torch.tanh(0.05 * parts[0]),
                                                              10 * torch.tanh(0.05 * parts[1])), rtol=0, atol=1e-12)
    # IBM heads in eval mode: threshold each source, or one-hot of the larger one.
    probs = torch.tensor([[0.7, 0.5, 0.2], [0.6, 0.4, 0.3]], dtype=torch.float64).reshape(1, 2, 3, 1)
    threshold = heads.get("ibm", 3, 3, 2, threshold=0.55).eval()
    assert torch.equal(threshold.to_mask(probs)[0, :, :, 0], torch.tensor([[1.0, 0, 0], [1, 0, 0]], dtype=torch.float64))
    argmax = heads.get("ibm", 3, 3, 2, hard="argmax").eval()
    assert torch.equal(argmax.to_mask(probs)[0, :, :, 0], torch.tensor([[1.0, 1, 0], [0, 0, 1]], dtype=torch.float64))
    assert torch.equal(argmax.train().to_mask(probs), probs)
