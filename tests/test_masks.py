import math

import pytest
import torch

from bssmask import heads, losses, masks
from bssmask.metrics import bss_eval
from bssmask.models import MaskSeparator
from bssmask.stft import make_stft, synthesize


def test_registry_lists_every_kind():
    assert masks.KINDS == ("ibm", "irm", "wiener", "iam", "psm", "cirm")
    for name in masks.KINDS:
        assert masks.get(name).name == name
    with pytest.raises(ValueError, match="unknown mask kind 'foo'"):
        masks.get("foo")
    with pytest.raises(ValueError, match="bad options"):
        masks.get("cirm", min=3)


class PowerRatioMask(masks.MaskKind):
    """A toy kind, ``|S_i|^2 / |Y|^2`` truncated to [0, 1] (a real head by default), trained with ``msa``."""

    name = "prm"
    bounds = (0.0, 1.0)
    default_loss = "msa"

    def oracle(self, sources, mixture):
        return masks.safe_ratio(sources.abs() ** 2, mixture.abs().unsqueeze(-3) ** 2).clamp(0.0, 1.0)


def test_a_registered_kind_gets_its_oracle_target_head_and_loss(speech_pair):
    masks.register(PowerRatioMask)
    try:
        assert masks.KINDS[-1] == "prm" and heads.HEADS["prm"] is heads.RealMaskHead
        S = torch.tensor([[[1 + 0j, 0j]], [[1j, 0j]]], dtype=torch.complex128)  # [2, F=1, T=2]: |Y|^2 = 2, then 0
        torch.testing.assert_close(masks.get("prm").oracle(S, S.sum(0))[:, 0], torch.tensor(
            [[0.5, 0.0], [0.5, 0.0]], dtype=torch.float64), rtol=0, atol=1e-12)
        model = MaskSeparator(n_src=2, mask="prm", masker="blstm", mask_options={"activation": "softmax"})
        assert type(model.head) is heads.RealMaskHead and model.head.activation == "softmax"
        sources = speech_pair[None, :, :4000]
        outputs = model.forward_masks(sources.sum(1))
        src_tf = model.encoder(sources)
        torch.testing.assert_close(model.head.target(src_tf, outputs["mix_tf"]),
                                   PowerRatioMask().oracle_tf(src_tf, outputs["mix_tf"]))
        assert outputs["mask"].shape[-2] == 128 and 0 <= outputs["mask"].min() and outputs["mask"].max() <= 1
        assert losses.default_for("prm") == losses.default_for(model) == "msa"
        losses.get(losses.default_for(model), model)(outputs, sources, model).backward()
        with pytest.raises(ValueError, match="^loss 'mask_bce' trains ibm masks, not 'prm'$"):
            losses.get("mask_bce", model)
    finally:
        masks.unregister("prm")
    assert masks.KINDS == ("ibm", "irm", "wiener", "iam", "psm", "cirm") and "prm" not in heads.HEADS
    with pytest.raises(ValueError, match="^unknown mask kind 'prm'; choose from ibm, "):
        heads.get("prm", 4, 4, 2)


def test_a_subclass_under_a_new_name_takes_its_parents_head_and_losses():
    @masks.register
    class HalfRatioMask(masks.ComplexRatioMask):
        name = "cirm_half"

        def __init__(self, max: float = 0.5):
            super().__init__(max)

    try:
        bounded = heads.get("cirm_half", 8, 4, 2)
        assert type(bounded) is heads.ComplexMaskHead and bounded.kind.bounds == (None, 0.5) and bounded.max == 0.5
        with pytest.raises(ValueError, match=r"^cirm_half max=0.5 bounds the mask's magnitude, which "
                                             r"bound='compressed' does not \(it bounds each part by K=4\)"):
            heads.get("cirm_half", 8, 4, 2, bound="compressed", K=4.0)
        head = heads.get("cirm_half", 8, 4, 2, bound="compressed", K=4.0, max=None)
        assert type(head) is heads.ComplexMaskHead and head.kind.bounds == (None, None) and head.K == 4.0
        assert losses.default_for("cirm_half") == "cspec" and losses.default_for(head) == "mask_cmse"
        assert losses.get("mask_cmse", head).name == "mask_cmse"
        with pytest.raises(ValueError) as err:
            losses.get("mask_cmse", "irm")
        assert str(err.value) == "loss 'mask_cmse' trains cirm, cirm_half masks, not 'irm'"
        with pytest.raises(ValueError, match="^mask kind 'cirm_half' is already registered$"):
            masks.register(HalfRatioMask)
    finally:
        masks.unregister("cirm_half")
    with pytest.raises(ValueError, match="^RatioMask has no name: set its name attribute or pass name=...$"):
        masks.register(masks.RatioMask, power=3.0)
    with pytest.raises(TypeError, match="must be a MaskKind subclass"):
        masks.register(heads.RealMaskHead)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_complex_oracle_reconstructs_real_speech(speech_pair, dtype):
    sources = speech_pair.to(dtype)
    encoder, decoder = make_stft(510, 128)
    encoder, decoder = encoder.to(dtype), decoder.to(dtype)
    mix_tf = encoder(sources.sum(0)[None])  # [1, 2F, T']
    src_tf = encoder(sources[None])  # [1, 2, 2F, T']
    kind = masks.get("cirm")
    mask = kind.oracle_tf(src_tf, mix_tf)
    assert mask.shape == src_tf.shape
    est = synthesize(decoder, masks.apply_tf(mask, mix_tf), sources.shape[-1])[0]
    sdr = bss_eval(sources, est)["sdr"]
    assert (sdr > (90 if dtype == torch.float32 else 130)).all(), sdr


def test_ibm_on_sources_in_distinct_bins():
    # Two tones, each exactly on its own FFT bin: the IBM must separate them perfectly.
    n_fft, rate = 256, 8000
    t = torch.arange(rate, dtype=torch.float64) / rate
    bin_hz = rate / n_fft
    sources = torch.stack([torch.sin(2 * math.pi * 20 * bin_hz * t), 0.5 * torch.sin(2 * math.pi * 50 * bin_hz * t)])
    encoder, decoder = make_stft(n_fft, 64)
    encoder, decoder = encoder.double(), decoder.double()
    tf = encoder(torch.cat([sources, sources.sum(0, keepdim=True)])[None])[0]
    S, Y = masks.from_asteroid(tf[:2]), masks.from_asteroid(tf[2])
    ibm = masks.get("ibm").oracle(S, Y)
    assert set(ibm.unique().tolist()) <= {0.0, 1.0}
    inner = slice(2, -2)  # frames away from the signal edges
    assert (ibm[0, 20, inner] == 1).all() and (ibm[1, 50, inner] == 1).all()
    assert (ibm[0, 50, inner] == 0).all() and (ibm[1, 20, inner] == 0).all()
    assert (ibm.sum(0) <= 1).all()
    est = synthesize(decoder, masks.to_asteroid(masks.get("ibm").apply(ibm, Y)).unsqueeze(0), rate)[0]
    mid = slice(n_fft, rate - n_fft)  # away from the edges of the tones
    assert bss_eval(sources[:, mid], est[:, mid])["sdr"].min() > 40


def test_ibm_against_rest_matches_max_for_two_sources(speech_spectra):
    S, Y = speech_spectra
    assert torch.equal(masks.get("ibm").oracle(S, Y), masks.get("ibm", against="rest").oracle(S, Y))


@pytest.mark.parametrize("name", ["irm", "wiener"])
def test_ratio_masks_sum_to_one(speech_spectra, name):
    S, Y = speech_spectra
    S = torch.cat([S, torch.zeros_like(S[:1])])  # a silent third source
    S[..., :3, :] = 0  # all-zero bins
    mask = masks.get(name).oracle(S, S.sum(0))
    assert torch.allclose(mask.sum(0), torch.ones_like(mask[0]), atol=1e-6)
    assert (mask >= 0).all() and (mask <= 1).all()
    assert torch.allclose(mask[:, :3], torch.full_like(mask[:, :3], 1 / 3))
    assert (mask[2, 3:] == 0).all()


def test_wiener_is_square_of_magnitudes_ratio(speech_spectra):
    S, Y = speech_spectra
    mag = S.abs()
    expected = mag[0] ** 2 / (mag[0] ** 2 + mag[1] ** 2)
    got = masks.get("wiener").oracle(S, Y)[0]
    ok = (mag[0] + mag[1]) > 1e-6
    assert torch.allclose(got[ok], expected[ok], atol=1e-6)
    assert torch.allclose(masks.get("wiener", sqrt=True).oracle(S, Y)[0][ok], expected[ok].sqrt(), atol=1e-6)


@pytest.mark.parametrize(
    "name,options,low,high",
    [("iam", {}, 0.0, 1.0), ("iam", {"max": 2.0}, 0.0, 2.0), ("psm", {}, 0.0, 1.0), ("psm", {"min": -1.0}, -1.0, 1.0)],
)
def test_truncated_masks_stay_in_bounds(speech_spectra, name, options, low, high):
    S, Y = speech_spectra
    kind = masks.get(name, **options)
    mask = kind.oracle(S, Y)
    assert kind.bounds == (low, high)
    assert mask.min() >= low and mask.max() <= high
    # The truncation matters on real speech: the upper bound is reached, and
    # the signed PSM reaches its lower bound too.
    assert mask.max() == high
    if low < 0:
        assert mask.min() == low


def test_psm_equals_magnitude_ratio_times_cosine(speech_spectra):
    S, Y = speech_spectra
    raw = S.abs() / Y.abs() * torch.cos(S.angle() - Y.angle())
    got = masks.get("psm", min=-1e9, max=1e9).oracle(S, Y)
    assert torch.allclose(got, raw, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", masks.KINDS)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_silent_sources_and_zero_bins_are_defined(name, dtype):
    S = torch.randn(2, 3, 6, 5, dtype=dtype)  # batch 2, 3 sources, F=6, T=5
    S[:, 1] = 0  # a silent source in every batch item
    S[..., 2, :] = 0  # an all-zero frequency row
    S[0, 0, 4, 0] = 1e-30  # a denormal-sized bin
    Y = S.sum(-3)
    mask = masks.get(name).oracle(S, Y)
    assert mask.shape == S.shape
    assert torch.isfinite(torch.view_as_real(mask) if mask.is_complex() else mask).all()
    silent = mask[:, 1]
    if name in ("irm", "wiener"):
        assert torch.allclose(silent[..., 2, :], torch.full_like(silent[..., 2, :], 1 / 3))
        silent = torch.cat([silent[..., :2, :], silent[..., 3:, :]], -2)
    assert (silent == 0).all()


def test_apply_tf_formats(speech_spectra):
    S, Y = speech_spectra
    mix_tf = masks.to_asteroid(Y)[None]
    for name in masks.KINDS:
        kind = masks.get(name)
        mask = masks.to_asteroid(kind.oracle(S, Y))[None]
        assert mask.shape[-2] == (512 if kind.is_complex else 256)
        out = masks.apply_tf(mask, mix_tf)
        assert out.shape == (1, 2, 512, Y.shape[-1])
        assert torch.allclose(masks.from_asteroid(out)[0], kind.apply(kind.oracle(S, Y), Y), atol=1e-5)
    with pytest.raises(ValueError, match="frequency rows"):
        masks.apply_tf(torch.ones(1, 2, 100, Y.shape[-1]), mix_tf)


def _bins(*columns):
    """Complex sources ``[n_src, F=len(columns), T=1]`` from per-bin tuples of source values."""
    return torch.tensor(columns, dtype=torch.complex128).T.unsqueeze(-1).contiguous()


# Three sources, five bins (magnitudes after the phases): a clear winner; a tie at the
# top; all zero; a winner louder than each other source but not than their sum
# (where the "max" and "rest" rules differ); a winner louder than the rest.
THREE = _bins((3, 2j, -1), (-2, 2j, 1), (0, 0, 0), (2, 1.5j, -1), (1j, 5, 0.5))


def test_ibm_by_value_with_three_sources():
    ibm = masks.get("ibm").oracle(THREE, THREE.sum(0))
    assert ibm.dtype == torch.float64
    expected = torch.tensor([[1, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], dtype=torch.float64)
    assert torch.equal(ibm[..., 0], expected)
    # "rest": |S_i| > |Y - S_i|. Bin 1: |2j| > |-2 + 1| although 2j ties with -2 for the max;
    # bin 3: |2| > |1.5j - 1| and |1.5j| > |2 - 1|, two sources get 1.
    rest = masks.get("ibm", against="rest").oracle(THREE, THREE.sum(0))
    assert torch.equal(rest[..., 0], torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]],
                                                    dtype=torch.float64))
    # A source louder than each other one but quieter than their sum: 1 by "max", 0 by "rest".
    S = _bins((2, 1.5, 1.5))
    assert torch.equal(masks.get("ibm").oracle(S, S.sum(0))[:, 0, 0], torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    assert torch.equal(masks.get("ibm", against="rest").oracle(S, S.sum(0))[:, 0, 0], torch.zeros(3, dtype=torch.float64))


def test_ibm_max_rule_on_random_three_source_spectra():
    gen = torch.Generator().manual_seed(0)
    S = torch.randn(3, 40, 30, generator=gen, dtype=torch.complex64)
    S[1] *= 2
    ibm = masks.get("ibm").oracle(S, S.sum(0))
    mag = S.abs()
    for i in range(3):
        others = torch.stack([mag[j] for j in range(3) if j != i]).amax(0)
        assert torch.equal(ibm[i], (mag[i] > others).float())
    assert (ibm.sum(0) == 1).all()  # no ties in random data: exactly one winner per bin


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_ratio_masks_by_value_with_three_sources(dtype):
    S = _bins((3, 4j, 0), (0, 0, 0), (1, -1, 1j)).to(dtype)
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    expected = {
        "irm": [[3 / 7, 1 / 3, 1 / 3], [4 / 7, 1 / 3, 1 / 3], [0, 1 / 3, 1 / 3]],
        "wiener": [[9 / 25, 1 / 3, 1 / 3], [16 / 25, 1 / 3, 1 / 3], [0, 1 / 3, 1 / 3]],
    }
    for name, values in expected.items():
        mask = masks.get(name).oracle(S, S.sum(0))
        assert mask.dtype == real
        torch.testing.assert_close(mask[..., 0], torch.tensor(values, dtype=real), rtol=0, atol=1e-7)
    sqrt = masks.get("wiener", sqrt=True).oracle(S, S.sum(0))[..., 0]
    torch.testing.assert_close(sqrt[:, 0], torch.tensor([0.6, 0.8, 0.0], dtype=real), rtol=0, atol=1e-7)
    torch.testing.assert_close(sqrt[:, 1], torch.full((3,), 3 ** -0.5, dtype=real), rtol=0, atol=1e-7)


# Two sources, four bins: S1 = 3, S2 = 4j (|Y| = 5); S1 = 2, S2 = -1 (Y = 1, masks
# beyond 1 and below 0); S1 = 1, S2 = -1 (Y = 0); S1 = 0.5 + 0.5j, S2 = 0.5 - 0.5j (Y = 1).
TWO = _bins((3, 4j), (2, -1), (1, -1), (0.5 + 0.5j, 0.5 - 0.5j))


@pytest.mark.parametrize(
    "name,options,expected",
    [
        ("iam", {}, [[0.6, 1.0, 0.0, 0.5 ** 0.5], [0.8, 1.0, 0.0, 0.5 ** 0.5]]),
        ("iam", {"max": 1.5}, [[0.6, 1.5, 0.0, 0.5 ** 0.5], [0.8, 1.0, 0.0, 0.5 ** 0.5]]),
        ("iam", {"max": 10.0}, [[0.6, 2.0, 0.0, 0.5 ** 0.5], [0.8, 1.0, 0.0, 0.5 ** 0.5]]),
        ("psm", {}, [[0.36, 1.0, 0.0, 0.5], [0.64, 0.0, 0.0, 0.5]]),
        ("psm", {"min": -1.0, "max": 1.0}, [[0.36, 1.0, 0.0, 0.5], [0.64, -1.0, 0.0, 0.5]]),
        ("psm", {"min": -0.5, "max": 1.5}, [[0.36, 1.5, 0.0, 0.5], [0.64, -0.5, 0.0, 0.5]]),
        ("psm", {"min": -5.0, "max": 5.0}, [[0.36, 2.0, 0.0, 0.5], [0.64, -1.0, 0.0, 0.5]]),
    ],
)
def test_truncated_masks_by_value(name, options, expected):
    mask = masks.get(name, **options).oracle(TWO, TWO.sum(0))
    assert mask.dtype == torch.float64
    torch.testing.assert_close(mask[..., 0], torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)


def test_cirm_by_value_and_exact_reconstruction():
    Y = TWO.sum(0)
    cirm = masks.get("cirm").oracle(TWO, Y)
    assert cirm.dtype == torch.complex128
    # 3 / (3 + 4j) = (9 - 12j) / 25, 4j / (3 + 4j) = (16 + 12j) / 25; 0 where Y = 0.
    expected = torch.tensor([[(9 - 12j) / 25, 2, 0, 0.5 + 0.5j], [(16 + 12j) / 25, -1, 0, 0.5 - 0.5j]],
                            dtype=torch.complex128)
    torch.testing.assert_close(cirm[..., 0], expected, rtol=0, atol=1e-12)
    applied = masks.get("cirm").apply(cirm, Y)
    nonzero = Y.abs() > 0
    torch.testing.assert_close(applied[:, nonzero], TWO[:, nonzero], rtol=0, atol=1e-12)
    assert torch.equal(applied[:, ~nonzero], torch.zeros_like(applied[:, ~nonzero]))


def test_zero_floor_and_safe_ratio_by_value():
    assert masks.zero_floor(torch.float32) == torch.finfo(torch.float32).tiny ** 0.5
    assert masks.zero_floor(torch.complex128) == torch.finfo(torch.float64).tiny ** 0.5
    floor = masks.zero_floor(torch.float32)
    num = torch.tensor([1.0, 2.0, 3.0, 4.0])
    den = torch.tensor([2.0, 0.0, floor, -2 * floor])
    # At the floor itself the bin counts as zero; just above it divides.
    assert torch.equal(masks.safe_ratio(num, den, fill=7.0), torch.tensor([0.5, 7.0, 7.0, 4.0 / (-2 * floor)]))
    assert torch.equal(masks.safe_ratio(num, den)[1:3], torch.zeros(2))
    assert masks.safe_ratio(torch.tensor([1j]), torch.tensor([2j])).item() == 0.5


@pytest.mark.parametrize("dtype,limit", [(torch.float32, 2.0 ** 65), (torch.float64, 2.0 ** 513)])
def test_safe_ratio_overflows_only_beyond_finfo_max_times_the_floor(dtype, limit):
    """The documented limit of zero_floor: over a denominator just above the floor, numerators up to
    finfo.max * zero_floor (about 2^65 in float32, 2^513 in float64) give finite ratios, larger ones inf."""
    floor = masks.zero_floor(dtype)
    assert torch.finfo(dtype).max * floor == pytest.approx(limit, rel=1e-6)
    complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    phases = torch.exp(1j * torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64))
    den = torch.nextafter(torch.tensor(floor, dtype=dtype), torch.tensor(1.0, dtype=dtype))
    below = 0.999 * limit
    assert torch.isfinite(masks.safe_ratio(torch.tensor([below, -below], dtype=dtype), den)).all()
    ratios = masks.safe_ratio((below * phases[:, None]).to(complex_dtype), (1.0001 * floor * phases).to(complex_dtype))
    assert torch.isfinite(torch.view_as_real(ratios)).all()
    assert masks.safe_ratio(torch.tensor(1.01 * limit, dtype=dtype), den).isinf()


def test_errors_name_the_argument_and_defaults():
    kinds = "ibm, irm, wiener, iam, psm, cirm"
    for call, message in (
        (lambda: masks.get("foo"), f"unknown mask kind 'foo'; choose from {kinds}"),
        (lambda: masks.get("ibm", against="sum"), "against must be 'max' or 'rest', got 'sum'"),
        (lambda: masks.get("iam", max=0), "iam max must be > 0, got 0"),
        (lambda: masks.get("psm", min=1.0, max=1.0), "psm needs min < max, got [1.0, 1.0]"),
        (lambda: masks.compress_cirm(torch.ones(2), C=0), "cIRM compression needs K > 0 and C > 0, got K=10.0, C=0"),
        (lambda: masks.decompress_cirm(torch.ones(2), K=0), "cIRM compression needs K > 0 and C > 0, got K=0, C=0.1"),
        (lambda: masks.get("irm").oracle(torch.ones(1, 3, 4, dtype=torch.complex64), torch.ones(3, 4)),
         "sources must be [..., n_src>=2, F, T], got shape (1, 3, 4)"),
        (lambda: masks.get("irm").oracle(torch.ones(2, 3, 4, dtype=torch.complex64), torch.ones(3, 5)),
         "sources (2, 3, 4) and mixture (3, 5) differ in [F, T]"),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    ratio = masks.RatioMask()
    assert (ratio.power, ratio.sqrt, ratio.name) == (1.0, False, "irm")
    assert masks.get("iam", max=0.5).bounds == (0.0, 0.5)


def test_compression_with_other_constants_by_value():
    z = torch.tensor([3 - 4j, -0.5 + 2j], dtype=torch.complex128)
    K, C = 0.5, 0.7
    expected = torch.complex(K * torch.tanh(C * z.real / 2), K * torch.tanh(C * z.imag / 2))
    torch.testing.assert_close(masks.compress_cirm(z, K, C), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(masks.decompress_cirm(expected, K, C), z, rtol=0, atol=1e-9)


def test_apply_tf_without_a_batch_dim_and_its_error_message():
    S, Y = masks.from_asteroid(masks.to_asteroid(TWO)), TWO.sum(0)  # [2, F=4, 1], [4, 1]
    mix_tf = masks.to_asteroid(Y)  # [2F, T]: no batch dim
    for name in ("irm", "cirm"):
        kind = masks.get(name)
        mask = kind.oracle(S, Y)
        got = masks.from_asteroid(masks.apply_tf(masks.to_asteroid(mask), mix_tf))
        torch.testing.assert_close(got, kind.apply(mask, Y), rtol=0, atol=1e-12)
    for mask, mix in ((torch.ones(1, 2, 100, 7), torch.ones(1, 512, 7)), (torch.ones(2, 100, 7), torch.ones(512, 7))):
        with pytest.raises(ValueError) as err:
            masks.apply_tf(mask, mix)
        assert str(err.value) == "mask has 100 frequency rows; expected F=256 (real) or 2F=512 (complex)"


def test_cirm_max_clips_the_magnitude_and_keeps_the_phase():
    assert masks.get("cirm").bounds == (None, None) and masks.ComplexRatioMask().max is None
    Y = TWO.sum(0)
    for max_, clipped in ((1.0, [1, -1]), (1.5, [1.5, -1])):  # the bin with cIRM (2, -1)
        kind = masks.get("cirm", max=max_)
        assert kind.bounds == (None, max_)
        expected = torch.tensor([[(9 - 12j) / 25, clipped[0], 0, 0.5 + 0.5j], [(16 + 12j) / 25, clipped[1], 0, 0.5 - 0.5j]],
                                dtype=torch.complex128)
        torch.testing.assert_close(kind.oracle(TWO, Y)[..., 0], expected, rtol=0, atol=1e-12)
    got = masks.clip_magnitude(torch.tensor([0.5j, -4 + 3j, 0j, 2.0], dtype=torch.complex128), 2.0)
    torch.testing.assert_close(got, torch.tensor([0.5j, -1.6 + 1.2j, 0j, 2.0], dtype=torch.complex128), rtol=0, atol=1e-12)
    with pytest.raises(ValueError) as err:
        masks.get("cirm", max=0)
    assert str(err.value) == "cirm max must be > 0, got 0"


def test_specs_name_a_kind_with_its_options():
    assert masks.parse_spec(" psm : min=-1 : max=1.5 ") == ("psm", {"min": -1, "max": 1.5})
    assert masks.parse_spec("ibm:against=rest:a=TRUE:b=none:c=False") == (
        "ibm", {"against": "rest", "a": True, "b": None, "c": False})
    assert masks.parse_spec("irm") == ("irm", {}) and masks.parse_spec("x:k=a=b") == ("x", {"k": "a=b"})
    assert masks.get("iam:max=2").bounds == (0.0, 2.0)
    assert masks.get("iam:max=2", max=3).bounds == (0.0, 3.0)  # keyword options win
    assert masks.get("cirm:max=1").max == 1.0 and masks.get("ibm:against=rest").against == "rest"
    kinds = "ibm, irm, wiener, iam, psm, cirm"
    for call, message in (
        (lambda: masks.get("foo:max=1"), f"mask 'foo:max=1': unknown mask kind 'foo'; choose from {kinds}"),
        (lambda: masks.get("cirm:max=0"), "mask 'cirm:max=0': cirm max must be > 0, got 0"),
        (lambda: masks.parse_spec("cirm:max"), "mask 'cirm:max': option 'max' is not key=value (e.g. cirm:max=1)"),
        (lambda: masks.parse_spec("cirm:=1"), "mask 'cirm:=1': option '=1' is not key=value (e.g. cirm:max=1)"),
        (lambda: masks.parse_spec("cirm:max= "), "mask 'cirm:max= ': option 'max=' is not key=value "
                                                 "(e.g. cirm:max=1)"),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    with pytest.raises(ValueError, match=r"^mask 'cirm:K=1': bad options for mask kind 'cirm': "):
        masks.get("cirm:K=1")
    with pytest.raises(ValueError, match=r"^bad options for mask kind 'cirm': "):
        masks.get("cirm", K=1)
