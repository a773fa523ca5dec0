import importlib
import math
import subprocess
import sys

import pytest
import torch

from bssmask import freq_resample


@pytest.mark.parametrize("method", freq_resample.UP_METHODS)
@pytest.mark.parametrize("space", freq_resample.SPACES)
def test_factor_one_is_identity(speech_spectra, method, space):
    S, _ = speech_spectra
    assert torch.equal(freq_resample.downsample(S, 1, method, space), S)
    assert torch.equal(freq_resample.upsample(S, S.shape[-2], method, space), S)


def test_keep_takes_every_kth_bin(speech_spectra):
    S, _ = speech_spectra
    low = freq_resample.downsample(S, 4, "keep")
    assert low.shape == (2, 64, S.shape[-1])
    assert torch.equal(low, S[:, ::4])


def test_nearest_after_keep_is_the_same_in_every_space(speech_spectra):
    S, _ = speech_spectra
    low = freq_resample.downsample(S, 2, "keep")
    ups = [freq_resample.upsample(low, S.shape[-2], "nearest", space) for space in freq_resample.SPACES]
    assert torch.allclose(ups[0], ups[1], atol=1e-6) and torch.allclose(ups[0], ups[2], atol=1e-6)
    # Each kept bin is repeated: bins 2k and 2k+1 both hold original bin 2k.
    assert torch.allclose(ups[0][:, 0::2], S[:, 0::2]) and torch.allclose(ups[0][:, 1::2], S[:, 0::2])


def test_linear_interpolation_midpoints_and_polar_wrap():
    # Two bins whose phases straddle +-pi: cartesian and phasor interpolate across
    # the short arc, polar goes the long way round through phase 0.
    x = torch.polar(torch.ones(1, 2, 1), torch.tensor([[[math.pi - 0.1], [-math.pi + 0.1]]]))
    up = {s: freq_resample.upsample(x, 4, "bilinear", s) for s in freq_resample.SPACES}
    middle = 1, 2  # output bins 1 and 2 lie between the two inputs
    for i in middle:
        assert abs(abs(up["phasor"][0, i, 0].angle()) - math.pi) < 0.11
        assert abs(up["polar"][0, i, 0].angle()) < 1.6  # pulled towards phase 0: wrong side
        assert up["cartesian"][0, i, 0].real < -0.9
    assert torch.allclose(up["phasor"].abs(), torch.ones(1, 4, 1))  # unit magnitude kept


def test_polar_magnitude_is_clamped_after_bicubic_overshoot():
    # A peak with phase pi/3 on a low floor: bicubic overshoots below zero next to it.
    phase = math.pi / 3
    magnitude = torch.tensor([[0.01], [0.01], [1.0], [0.01]], dtype=torch.float64)
    x = torch.polar(magnitude, torch.full((4, 1), phase, dtype=torch.float64))
    overshoot = freq_resample.upsample(magnitude, 8, "bicubic")  # a real input: interpolated as is
    assert overshoot.min() < -0.05
    for space in ("polar", "phasor"):
        up = freq_resample.upsample(x, 8, "bicubic", space)
        # Where the interpolated magnitude is negative the output is exactly zero (a
        # negative magnitude would flip the phase by pi); elsewhere it keeps the phase.
        torch.testing.assert_close(up.abs(), overshoot.clamp_min(0.0), rtol=0, atol=1e-12)
        assert torch.equal(up[overshoot < 0], torch.zeros_like(up[overshoot < 0]))
        positive = overshoot > 0
        torch.testing.assert_close(up[positive].angle(), torch.full_like(up[positive].real, phase), rtol=0, atol=1e-9)


RAMP = torch.arange(8, dtype=torch.float64).reshape(8, 1)  # [F=8, T=1], bin f holds f
# align_corners=False: output bin i of 16 sits at input position (i + 0.5) / 2 - 0.5.
POSITION = ((torch.arange(16, dtype=torch.float64) + 0.5) / 2 - 0.5).reshape(16, 1)


def _keys(d, a=-0.75):
    """Cubic convolution kernel (Keys, ``a = -0.75`` as in torch's bicubic)."""
    d = d.abs()
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))


def test_upsampling_a_ramp_by_value():
    clamped = POSITION.clamp(0, 7)
    torch.testing.assert_close(freq_resample.upsample(RAMP, 16, "bilinear"), clamped, rtol=0, atol=1e-12)
    assert torch.equal(freq_resample.upsample(RAMP, 16, "nearest"), RAMP.repeat_interleave(2, 0))
    # Bicubic: sum_k w(x - k) f(k) over the four nearest bins, edge bins repeated.
    taps = POSITION.floor() + torch.arange(-1, 3, dtype=torch.float64)  # [16, 4]
    expected = (_keys(POSITION - taps) * taps.clamp(0, 7)).sum(-1, keepdim=True)
    torch.testing.assert_close(freq_resample.upsample(RAMP, 16, "bicubic"), expected, rtol=0, atol=1e-12)
    assert expected[0] < 0 and expected[-1] > 7  # overshoot at both ends
    # Frames are interpolated independently: a second frame with another ramp.
    frames = torch.cat([RAMP, 3 - 2 * RAMP], dim=1)
    torch.testing.assert_close(freq_resample.upsample(frames, 16, "bilinear"), torch.cat([clamped, 3 - 2 * clamped], 1))


def test_downsampling_a_ramp_by_value():
    ramp = torch.arange(16, dtype=torch.float64).reshape(16, 1)
    assert torch.equal(freq_resample.downsample(ramp, 4, "keep"), 4 * RAMP[:4])
    # Bilinear without antialiasing: output bin i reads input position 4i + 1.5.
    torch.testing.assert_close(freq_resample.downsample(ramp, 4, "bilinear"), 4 * RAMP[:4] + 1.5, rtol=0, atol=1e-12)
    assert torch.equal(freq_resample.downsample(ramp, 4, "nearest"), 4 * RAMP[:4])


@pytest.mark.parametrize("space", freq_resample.SPACES)
def test_upsampling_a_complex_tone_by_value(space):
    # A turning phasor with a rising magnitude, upsampled 8 -> 16 bins linearly in each space.
    low = torch.polar(1 + 0.2 * RAMP, 0.4 * RAMP)
    position = POSITION.clamp(0, 7)
    left = position.floor().long().squeeze(1)
    right, w = (left + 1).clamp(max=7), position - position.floor()
    a, b = low[left], low[right]
    magnitude = (1 - w) * a.abs() + w * b.abs()
    expected = {
        "cartesian": (1 - w) * a + w * b,
        "polar": torch.polar(magnitude, (1 - w) * a.angle() + w * b.angle()),
        "phasor": torch.polar(magnitude, ((1 - w) * torch.sgn(a) + w * torch.sgn(b)).angle()),
    }[space]
    torch.testing.assert_close(freq_resample.upsample(low, 16, "bilinear", space), expected, rtol=0, atol=1e-12)
    # The three spaces really differ on this input.
    others = [freq_resample.upsample(low, 16, "bilinear", s) for s in freq_resample.SPACES if s != space]
    assert all((other - expected).abs().max() > 1e-4 for other in others)


def test_interpolating_downsample_shapes_and_errors(speech_spectra):
    S, _ = speech_spectra
    for method in freq_resample.UP_METHODS:
        assert freq_resample.downsample(S, 2, method, "polar").shape == (2, 128, S.shape[-1])
    with pytest.raises(ValueError, match="does not divide the 256"):
        freq_resample.downsample(S, 3)
    with pytest.raises(ValueError, match="unknown downsampling method 'area'"):
        freq_resample.downsample(S, 2, "area")
    with pytest.raises(ValueError, match="unknown space 'log'"):
        freq_resample.upsample(S, 512, "nearest", "log")


def test_defaults_and_error_messages():
    x = torch.polar(torch.ones(8, 2), torch.linspace(-3, 3, 16).reshape(8, 2))
    assert torch.equal(freq_resample.downsample(x, 2), x[::2])  # "keep" by default
    assert torch.equal(freq_resample.upsample(x[::2], 8), freq_resample.upsample(x[::2], 8, "nearest", "cartesian"))
    for call, message in (
        (lambda: freq_resample.upsample(x, 16, "area"), "unknown interpolation method 'area'; choose from nearest, "
                                                   "bilinear, bicubic"),
        (lambda: freq_resample.upsample(x, 16, "nearest", "log"), "unknown space 'log'; choose from cartesian, polar, "
                                                             "phasor"),
        (lambda: freq_resample.downsample(x, 2, "area"), "unknown downsampling method 'area'; choose from keep, nearest, "
                                                    "bilinear, bicubic"),
        (lambda: freq_resample.downsample(x, 2.0), "factor must be a positive integer, got 2.0"),
        (lambda: freq_resample.downsample(x, 0), "factor must be a positive integer, got 0"),
        (lambda: freq_resample.downsample(x, 3), "factor 3 does not divide the 8 frequency bins"),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message


def test_interpolating_downsample_uses_the_requested_space():
    # Phases alternating around +-pi: averaging angles (polar) lands near 0, phasors stay near pi.
    x = torch.polar(torch.ones(8, 1), torch.tensor([3.0, -3.0] * 4).reshape(8, 1))
    polar = freq_resample.downsample(x, 2, "bilinear", "polar")
    phasor = freq_resample.downsample(x, 2, "bilinear", "phasor")
    torch.testing.assert_close(polar, torch.ones(4, 1, dtype=torch.complex64), rtol=0, atol=1e-6)
    torch.testing.assert_close(phasor.angle().abs(), torch.full((4, 1), math.pi), rtol=0, atol=1e-6)


def _torch_nearest(x: torch.Tensor, n_out: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(x[:, None], size=(n_out, x.shape[-1]), mode="nearest")[:, 0]


@pytest.mark.parametrize("n_in, n_out", [(64, 128), (9, 23), (5, 16)])
def test_nearest_gathers_the_bins_torch_interpolate_picks(n_in, n_out):
    # The gather replaces F.interpolate's 2-D kernel: the same values, also for non-integer ratios.
    x = torch.randn(3, n_in, 7, generator=torch.Generator().manual_seed(n_in))
    assert torch.equal(freq_resample.upsample(x, n_out, "nearest"), _torch_nearest(x, n_out))
    wide = torch.randn(3, 4 * n_in, 7, generator=torch.Generator().manual_seed(n_out))
    assert torch.equal(freq_resample.downsample(wide, 4, "nearest"), _torch_nearest(wide, n_in))


@pytest.mark.parametrize("space", freq_resample.SPACES)
def test_nearest_copies_complex_bins_in_every_space(speech_spectra, space):
    # Copying a bin's magnitude and angle (or phasor) gives the bin back: nearest is the same in every space,
    # so it copies the complex values themselves, bit for bit, and the space's round trip agrees to rounding.
    S, _ = speech_spectra
    low = S[:, ::2]
    up = freq_resample.upsample(low, S.shape[-2], "nearest", space)
    assert torch.equal(up.real, _torch_nearest(low.real, S.shape[-2]))
    assert torch.equal(up.imag, _torch_nearest(low.imag, S.shape[-2]))
    magnitude, angle = _torch_nearest(low.abs(), S.shape[-2]), _torch_nearest(low.angle(), S.shape[-2])
    torch.testing.assert_close(up, torch.polar(magnitude, angle), rtol=1e-5, atol=1e-6 * low.abs().max().item())
    assert torch.equal(freq_resample.downsample(S, 2, "nearest", space), freq_resample.downsample(S, 2, "nearest"))


@pytest.mark.parametrize("space", freq_resample.SPACES)
def test_upsample_each_equals_one_upsample_per_method(speech_spectra, space):
    S, _ = speech_spectra
    low = freq_resample.downsample(S, 2, "keep")
    each = freq_resample.upsample_each(low, S.shape[-2], freq_resample.UP_METHODS, space)
    assert list(each) == list(freq_resample.UP_METHODS)
    for method in freq_resample.UP_METHODS:
        assert torch.equal(each[method], freq_resample.upsample(low, S.shape[-2], method, space))
    with pytest.raises(ValueError, match="unknown interpolation method 'cubic'"):
        freq_resample.upsample_each(low, S.shape[-2], ("nearest", "cubic"), space)


@pytest.mark.parametrize("old, new", [("bssmask.resample", "bssmask.freq_resample"), ("bssmask.io", "bssmask.model_files")])
def test_old_module_names_warn_and_give_the_same_functions(old, new):
    """The modules' names before the renaming still import, with a DeprecationWarning naming the new one."""
    code = (f"import warnings, {new}\nwith warnings.catch_warnings(record=True) as caught:\n"
            f"    warnings.simplefilter('always')\n    import {old}\n"
            f"print([str(w.message) for w in caught if w.category is DeprecationWarning])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == str([f"{old} is deprecated: import {new}"]), done.stderr[-2000:]
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    assert old_module.__all__ and all(getattr(old_module, name) is getattr(new_module, name)
                                      for name in old_module.__all__)
