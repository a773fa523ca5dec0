import math

import pytest
import torch

from bssmask import resample


@pytest.mark.parametrize("method", resample.UP_METHODS)
@pytest.mark.parametrize("space", resample.SPACES)
def test_factor_one_is_identity(speech_spectra, method, space):
    S, _ = speech_spectra
    assert torch.equal(resample.downsample(S, 1, method, space), S)
    assert torch.equal(resample.upsample(S, S.shape[-2], method, space), S)


def test_keep_takes_every_kth_bin(speech_spectra):
    S, _ = speech_spectra
    low = resample.downsample(S, 4, "keep")
    assert low.shape == (2, 64, S.shape[-1])
    assert torch.equal(low, S[:, ::4])


def test_nearest_after_keep_is_the_same_in_every_space(speech_spectra):
    S, _ = speech_spectra
    low = resample.downsample(S, 2, "keep")
    ups = [resample.upsample(low, S.shape[-2], "nearest", space) for space in resample.SPACES]
    assert torch.allclose(ups[0], ups[1], atol=1e-6) and torch.allclose(ups[0], ups[2], atol=1e-6)
    # Each kept bin is repeated: bins 2k and 2k+1 both hold original bin 2k.
    assert torch.allclose(ups[0][:, 0::2], S[:, 0::2]) and torch.allclose(ups[0][:, 1::2], S[:, 0::2])


def test_linear_interpolation_midpoints_and_polar_wrap():
    # Two bins whose phases straddle +-pi: cartesian and phasor interpolate across
    # the short arc, polar goes the long way round through phase 0.
    x = torch.polar(torch.ones(1, 2, 1), torch.tensor([[[math.pi - 0.1], [-math.pi + 0.1]]]))
    up = {s: resample.upsample(x, 4, "bilinear", s) for s in resample.SPACES}
    middle = 1, 2  # output bins 1 and 2 lie between the two inputs
    for i in middle:
        assert abs(abs(up["phasor"][0, i, 0].angle()) - math.pi) < 0.11
        assert abs(up["polar"][0, i, 0].angle()) < 1.6  # pulled towards phase 0: wrong side
        assert up["cartesian"][0, i, 0].real < -0.9
    assert torch.allclose(up["phasor"].abs(), torch.ones(1, 4, 1))  # unit magnitude kept


def test_polar_magnitude_is_clamped_after_bicubic_overshoot():
    x = torch.complex(torch.tensor([[0.0], [0.0], [1.0], [0.0]]), torch.zeros(4, 1))
    for space in ("polar", "phasor"):
        up = resample.upsample(x, 8, "bicubic", space)
        assert torch.isfinite(torch.view_as_real(up)).all()
        assert (up.abs() >= 0).all()
    real = resample.upsample(x.real, 8, "bicubic")
    assert real.min() < 0  # a real mask keeps bicubic overshoot (interpolated as is)


def test_interpolating_downsample_shapes_and_errors(speech_spectra):
    S, _ = speech_spectra
    for method in resample.UP_METHODS:
        assert resample.downsample(S, 2, method, "polar").shape == (2, 128, S.shape[-1])
    with pytest.raises(ValueError, match="does not divide the 256"):
        resample.downsample(S, 3)
    with pytest.raises(ValueError, match="unknown downsampling method 'area'"):
        resample.downsample(S, 2, "area")
    with pytest.raises(ValueError, match="unknown space 'log'"):
        resample.upsample(S, 512, "nearest", "log")
