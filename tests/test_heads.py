"""Heads: range and format of every kind, finite gradients at extreme inputs, targets from bssmask.masks."""

import math

import pytest
import torch
from asteroid.complex_nn import bound_complex_mask

from bssmask import heads, masks
from bssmask.models import MaskSeparator
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
    ("cirm", {"bound": "tanh", "max": 2.0}),
    ("cirm", {"bound": "tanh", "max": 0.5}),
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
            assert head.max == options.get("max", 1.0)
            assert torch.hypot(re, im).max() <= head.max * (1 + 1e-6)
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
        assert mag.max() <= head.max * (1 + 1e-6)
        inside = masks.from_asteroid(oracle).abs() <= head.max
        assert torch.equal(masks.from_asteroid(target)[inside], masks.from_asteroid(oracle)[inside])
    elif bound == "sigmoid":
        assert target.min() >= 0 and target.max() <= 1
    else:
        assert torch.equal(target, oracle)


def _expected_range(head, options):
    """``(low, high, magnitude)`` a head's training form and its target both span: its values (real heads) or
    real and imaginary parts (cirm), and the largest magnitude where the bound is one on the magnitude."""
    bound = getattr(head, "bound_type", None)
    if bound is None:
        return (*head.kind.bounds, None)
    if bound == "tanh":
        limit = options.get("max", 1.0)
        return -limit, limit, limit
    return {"sigmoid": (0.0, 1.0, None), "compressed": (-head.K, head.K, None), "none": (None, None, None)}[bound]


@pytest.mark.parametrize("kind,options", CONFIGS)
def test_head_and_target_span_the_range_of_the_kind_and_bound(kind, options, speech_tf):
    """On large random features the head reaches within 1% of each end of its range, never beyond; the
    target (the speech pair's oracle in the head's form) spans the same range."""
    torch.manual_seed(0)
    head = heads.get(kind, _rows(kind), N_FREQ, N_SRC, **options)
    z = head.predict(100 * torch.randn(4, N_SRC, _rows(kind), 200))
    target = head.target(*speech_tf)
    low, high, magnitude = _expected_range(head, options)
    for name, values in (("head", z), ("target", target)):
        if low is None:  # unbounded: both go far beyond any bounded range
            assert values.min() < -100 and values.max() > 100, name
            continue
        tol = 0.01 * (high - low)
        assert low - 1e-6 * tol <= values.min() <= low + tol, (name, values.min())
        assert high - tol <= values.max() <= high + 1e-6 * tol, (name, values.max())
        if magnitude is not None:
            largest = masks.magnitude_tf(values).max()
            assert magnitude * 0.99 <= largest <= magnitude * (1 + 1e-6), (name, largest)


@pytest.mark.parametrize("bound", ["sigmoid", "BDSS", "compressed", "none", None])
@pytest.mark.parametrize("limit", [1, 2.5])
def test_a_bound_that_does_not_bound_the_magnitude_refuses_a_kinds_max(bound, limit):
    canonical = {"BDSS": "sigmoid", None: "none"}.get(bound, bound)
    why = {"sigmoid": "it keeps each part in (0, 1)", "compressed": "it bounds each part by K=4",
           "none": "it is unbounded"}[canonical]
    message = (f"cirm max={limit} bounds the mask's magnitude, which bound='{canonical}' does not ({why}): "
               "use bound='tanh' (|z| < max) or drop max")
    for call in (lambda: heads.get("cirm", 8, 4, 2, bound=bound, max=limit, K=4.0),
                 lambda: heads.get(masks.get(f"cirm:max={limit}"), 8, 4, 2, bound=bound, K=4.0),
                 lambda: MaskSeparator(n_src=2, mask="cirm", masker="blstm", masker_kwargs={"n_layers": 1},
                                       mask_options={"bound": bound, "max": limit, "K": 4.0})):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    assert heads.get("cirm", 8, 4, 2, bound=bound, K=4.0).max is None  # without max: parts bounded, or unbounded


def test_a_real_head_refuses_a_kind_unbounded_on_one_side():
    class LogRatioMask(masks.IdealAmplitudeMask):
        name = "lrm"
        bounds = (0.0, None)

    with pytest.raises(ValueError) as err:
        heads.RealMaskHead(LogRatioMask(), 4, 4, 2)
    assert str(err.value) == "RealMaskHead needs a mask kind bounded on both sides, got 'lrm' with bounds (0.0, None)"


def test_the_default_tanh_head_is_the_max_1_head_bit_for_bit(speech_tf):
    torch.manual_seed(0)
    features = 5 * torch.randn(2, N_SRC, 2 * N_FREQ, 30)
    default, unit = heads.get("cirm", 2 * N_FREQ, N_FREQ, N_SRC), heads.get("cirm", 2 * N_FREQ, N_FREQ, N_SRC, max=1)
    assert default.max == unit.max == 1.0 and default.kind.max is None
    assert torch.equal(default(features), unit(features))
    assert torch.equal(default.target(*speech_tf), unit.target(*speech_tf))


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


@pytest.mark.parametrize("limit", [1.2, 3.0])
def test_tanh_head_and_target_with_a_kind_max_by_value(limit):
    # x = 3 + 4j (|x| = 5), x = 0.3 - 0.4j (|x| = 0.5), x = 0: z = max tanh(|x|) e^{j angle x}
    x = torch.tensor([[3 + 4j, 0.3 - 0.4j, 0]], dtype=torch.complex128).reshape(1, 1, 3, 1).repeat(1, 2, 1, 1)
    head = heads.get("cirm", 6, 3, 2, bound="tanh", max=limit).double()
    z = masks.from_asteroid(head.predict(masks.to_asteroid(x)))[0, 0, :, 0]
    expected = limit * torch.tensor([math.tanh(5) * (0.6 + 0.8j), math.tanh(0.5) * (0.6 - 0.8j), 0],
                                    dtype=torch.complex128)
    torch.testing.assert_close(z, expected, rtol=0, atol=1e-12)
    # The target: the cIRM with its magnitude clipped to max, phase kept (|2| and |1.5| exceed 1.2).
    target = masks.from_asteroid(head.target(*_two_source_tf()))[0, ..., 0]
    torch.testing.assert_close(target, CIRM * (limit / CIRM.abs().clamp_min(limit)), rtol=0, atol=1e-12)
    assert (target.abs().max().item() == pytest.approx(min(limit, 2.0))) and torch.equal(target[:, 0], CIRM[:, 0])


def test_compressed_head_with_other_constants_by_value():
    src_tf, mix_tf = _two_source_tf()
    head = heads.get("cirm", 6, 3, 2, bound="compressed", K=4.0, C=0.5).double()
    target = masks.from_asteroid(head.target(src_tf, mix_tf))[0, ..., 0]
    expected = torch.complex(4 * torch.tanh(0.25 * CIRM.real), 4 * torch.tanh(0.25 * CIRM.imag))
    torch.testing.assert_close(target, expected, rtol=0, atol=1e-12)
    features = masks.to_asteroid(CIRM[None, ..., None])
    z = head.predict(features)
    torch.testing.assert_close(masks.from_asteroid(z)[0, ..., 0], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(head(features), features, rtol=0, atol=1e-9)  # decompressed with the same K, C


def test_hard_masks_at_the_threshold_and_with_one_winner():
    probs = torch.tensor([[0.5, 0.9], [0.2, 0.3]], dtype=torch.float64).reshape(1, 2, 2, 1)
    threshold = heads.get("ibm", 2, 2, 2).eval()  # threshold 0.5: strictly above
    hard = threshold.to_mask(probs)
    assert hard.dtype == torch.float64
    assert torch.equal(hard[0, :, :, 0], torch.tensor([[0.0, 1], [0, 0]], dtype=torch.float64))
    argmax = heads.get("ibm", 2, 2, 2, hard="argmax").eval().to_mask(probs)  # source 0 wins every bin
    assert argmax.dtype == torch.float64 and argmax.shape == probs.shape
    assert torch.equal(argmax[0, :, :, 0], torch.tensor([[1.0, 1], [0, 0]], dtype=torch.float64))


def test_head_errors_name_the_argument_and_defaults():
    kinds = "ibm, irm, wiener, iam, psm, cirm"
    for call, message in (
        (lambda: heads.get("foo", 4, 4, 2), f"unknown mask kind 'foo'; choose from {kinds}"),
        (lambda: heads.RealMaskHead(masks.get("cirm"), 8, 4, 2), "RealMaskHead needs a real mask kind, got 'cirm'"),
        (lambda: heads.ComplexMaskHead(masks.get("irm"), 4, 4, 2), "ComplexMaskHead needs a complex mask kind, "
                                                                    "got 'irm'"),
        (lambda: heads.get("ibm", 4, 4, 2, hard="soft"), "hard must be 'threshold' or 'argmax', got 'soft'"),
        (lambda: heads.get(masks.get("iam"), 4, 4, 2, max=3.0), "options ['max'] are not options of the 'iam' head"),
        (lambda: heads.get("cirm", 8, 4, 2, K=0), "cirm compression needs K > 0 and C > 0, got K=0, C=0.1"),
        (lambda: heads.get("cirm", 8, 4, 2, C=0), "cirm compression needs K > 0 and C > 0, got K=10.0, C=0"),
        (lambda: heads.get("irm", 4, 4, 2)(torch.zeros(1, 3, 4, 5)),
         "RealMaskHead expects features [B, 2, 4, T], got (1, 3, 4, 5)"),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    with pytest.raises(ValueError, match=r"^bad options for the 'ibm' head: float\(\) argument"):
        heads.get("ibm", 4, 4, 2, threshold=None)
    assert heads.ComplexMaskHead(masks.get("cirm"), 8, 4, 2).bound_type == "tanh"
    assert heads.get("cirm", 8, 4, 2, bound="BDSS").bound_type == "sigmoid"
    small = heads.get("cirm", 8, 4, 2, bound="compressed", K=0.5, C=0.5)
    torch.testing.assert_close(small.predict(torch.ones(1, 2, 8, 1)), torch.full((1, 2, 8, 1), 0.5 * math.tanh(0.25)))
