import math

import pytest
import torch

from bssmask import masks
from bssmask.metrics import bss_eval
from bssmask.stft import make_stft, synthesize


def test_registry_lists_every_kind():
    assert masks.KINDS == ("ibm", "irm", "wiener", "iam", "psm", "cirm")
    for name in masks.KINDS:
        assert masks.get(name).name == name
    with pytest.raises(ValueError, match="unknown mask kind 'foo'"):
        masks.get("foo")
    with pytest.raises(ValueError, match="bad options"):
        masks.get("cirm", min=3)


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
