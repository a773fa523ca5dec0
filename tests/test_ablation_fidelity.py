"""The ablation's fidelity: the STFT window, bounded complex masks as kind specs, spreads over mixtures."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from bssmask import ablation, heads, masks
from bssmask.audio import load_sources
from bssmask.cli import main
from bssmask.data import DEFAULT_SOURCES
from bssmask.adjacent_bins import mask_statistics
from bssmask.means import mean_ci
from bssmask.stft import WINDOWS, make_stft, make_window, synthesize

F2_ROW = dict(upsampled=("mask",), methods=("nearest",), spaces=("cartesian",))


@pytest.fixture(scope="module")
def bundled_pair():
    """The whole bundled recording (10 s at 8 kHz), as ``bssmask ablate`` reads it by default."""
    return load_sources(DEFAULT_SOURCES)[0]


@pytest.mark.parametrize("window", WINDOWS)
def test_stft_is_torch_stft_with_that_window(window):
    x = torch.randn(1, 4000, generator=torch.Generator().manual_seed(0))
    encoder, _ = make_stft(510, 128, window=window)
    tf = encoder(x)
    ours = torch.complex(tf[:, :256], tf[:, 256:])
    reference = torch.stft(x, 510, 128, window=make_window(window, 510), center=True, pad_mode="reflect",
                           return_complex=True)
    assert torch.allclose(ours, reference, atol=1e-4)
    hann = torch.hann_window(510, periodic=True)
    assert torch.allclose(make_window(window, 510), hann if window == "hann" else hann.sqrt(), atol=1e-6)


def test_models_keep_the_square_root_window_by_default():
    window = torch.as_tensor(make_stft(254, 64)[0].filterbank.window).float()
    assert torch.allclose(window, torch.hann_window(254).sqrt(), atol=1e-6)


@pytest.mark.parametrize("window", WINDOWS)
def test_full_resolution_cirm_reconstructs_with_either_window(speech_pair, window):
    rows = ablation.score_mixture(speech_pair, ablation.AblationConfig(masks=("cirm",), window=window, **F2_ROW))
    oracle = next(r for r in rows if r["upsampled"] == "none")
    assert oracle["sdr"] > 90 and oracle["si_sdr"] > 90


def test_window_decides_whether_complex_beats_binary_at_half_resolution(bundled_pair):
    """The bundled pair at F/2 (keep, nearest, cartesian): the figures docs/ablation.md states for each window."""
    sdr = {}
    for window in WINDOWS:
        config = ablation.AblationConfig(window=window, **F2_ROW)
        for row in ablation.score_mixture(bundled_pair, config):
            sdr[window, row["mask"], row["upsampled"]] = row["sdr"]
    assert sdr["hann", "cirm", "mask"] == pytest.approx(12.89, abs=0.01)
    assert sdr["hann", "ibm", "mask"] == pytest.approx(12.14, abs=0.01)
    assert sdr["sqrt-hann", "cirm", "mask"] == pytest.approx(10.63, abs=0.01)
    assert sdr["sqrt-hann", "ibm", "mask"] == pytest.approx(11.34, abs=0.01)
    for window in WINDOWS:  # the bounded complex mask beats the binary mask under either window
        assert sdr[window, "cirm:max=1", "mask"] > sdr[window, "ibm", "mask"] + 1.5


def test_bounded_cirm_is_clipped_and_is_the_tanh_heads_target(speech_spectra):
    S, Y = speech_spectra
    free, bounded = masks.get("cirm").oracle(S, Y), masks.get("cirm:max=1").oracle(S, Y)
    assert free.abs().max() > 10  # the unbounded mask is large where the sources cancel
    assert bounded.abs().max() <= 1 + 1e-6
    small = free.abs() <= 1
    assert torch.equal(bounded[small], free[small])  # unchanged below the bound
    large = ~small
    assert torch.allclose(bounded[large].abs(), torch.ones(int(large.sum())), atol=1e-6)
    assert torch.allclose(torch.angle(bounded[large]), torch.angle(free[large]), atol=1e-5)  # phase kept
    head = heads.get("cirm", 512, 256, 2, bound="tanh")
    target = head.target(masks.to_asteroid(S)[None], masks.to_asteroid(Y)[None])[0]
    assert torch.equal(target, masks.to_asteroid(bounded))
    assert masks.get("cirm:max=2").oracle(S, Y).abs().max() == pytest.approx(2.0, abs=1e-5)


def test_kind_specs_parse_into_the_kinds_options():
    assert masks.parse_spec("cirm:max=1") == ("cirm", {"max": 1})
    assert masks.parse_spec(" psm:min=-1:max=1.5 ") == ("psm", {"min": -1, "max": 1.5})
    assert masks.parse_spec("ibm:against=rest") == ("ibm", {"against": "rest"})
    assert masks.get("iam:max=2").bounds == (0.0, 2.0)
    assert masks.get("psm:min=-1").bounds == (-1.0, 1.0)
    assert masks.get("ibm:against=rest").against == "rest"
    assert masks.get("cirm").max is None and masks.get("cirm:max=1").bounds == (None, 1.0)
    for bad, message in (("cirm:max=-1", "max must be > 0"), ("ibm:foo=1", "foo"),
                         ("cirm:max", "not key=value"), ("cirm:=1", "not key=value"), ("zzz:max=1", "unknown")):
        with pytest.raises(ValueError, match=message):
            masks.get(bad)


@pytest.mark.parametrize("spec", ["cirm:max=-1", "ibm:foo=1", "cirm:max"])
def test_bad_kind_spec_is_one_line_and_exit_2(tmp_path, capsys, spec):
    out = tmp_path / "out"
    assert main(["ablate", "--masks", f"ibm,{spec}", "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and spec in lines[0] and lines[0].startswith("bssmask ablate: error:")
    assert not out.exists()


def test_bad_kind_spec_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bssmask.cli", "ablate", "--masks", "cirm:max", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_mean_ci_on_known_values():
    mean, half = mean_ci([1.0, 2.0, 3.0, float("nan")])
    # t(0.975, df=2) = 4.302653; sample sd = 1
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    mean, half = mean_ci([10.0, 14.0])
    assert mean == 12.0 and half == pytest.approx(12.706205 * math.sqrt(8) / math.sqrt(2), rel=1e-6)
    assert math.isnan(mean_ci([5.0])[1]) and math.isnan(mean_ci([float("nan")])[0])


def test_mean_rows_add_the_spread_only_over_several_mixtures():
    def rows(sdr):
        return [dict(mask="ibm", upsampled="none", mode=None, space=None, sdr=sdr, si_sdr=sdr, sir=sdr, sar=sdr, l1=0.1)]
    [single] = ablation.mean_rows([rows(3.0)])
    assert "sdr_ci" not in single and single["sdr"] == 3.0
    [mean] = ablation.mean_rows([rows(1.0), rows(2.0), rows(3.0)])
    assert mean["sdr"] == 2.0 and mean["sdr_ci"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert mean["l1_ci"] == pytest.approx(0.0, abs=1e-12)


def test_dataset_writes_means_with_their_spread(tmp_path, speech_pair):
    data = tmp_path / "data"
    for i, offset in enumerate((0, 2000, 4000)):
        for s in range(2):
            (data / f"s{s + 1}").mkdir(parents=True, exist_ok=True)
            sf.write(data / f"s{s + 1}" / f"m{i}.wav", speech_pair[s, offset:offset + 8000].numpy(), 8000)
    out = tmp_path / "out"
    assert main(["ablate", "--dataset", str(data), "--masks", "ibm", "--upsampled", "mask", "--methods", "nearest",
                 "--stats", "--out", str(out)]) == 0
    result = json.loads((out / "ablation.json").read_text())
    per_mixture = {}
    with open(out / "ablation_per_mixture.csv") as handle:
        for row in csv.DictReader(handle):
            per_mixture.setdefault((row["upsampled"]), []).append(float(row["sdr"]))
    for row in result["rows"]:
        mean, half = mean_ci(per_mixture[row["upsampled"]])
        assert row["sdr"] == pytest.approx(mean, abs=1e-9) and row["sdr_ci"] == pytest.approx(half, abs=1e-9)
        assert row["sdr_ci"] > 0
    assert "sdr_ci" in (out / "ablation.csv").read_text().splitlines()[0]
    assert " ± " in (out / "ablation.md").read_text()
    stats = json.loads((out / "mask_stats.json").read_text())
    assert stats["rows"][0]["mask"] == "ibm" and stats["rows"][0]["mix_adjacent_corr_ci"] >= 0


@pytest.mark.parametrize("window, corr", [("hann", 2 / 3), ("sqrt-hann", 1 / 2)])
def test_mask_statistics_measure_the_window_and_the_large_bins(bundled_pair, window, corr):
    stats = {r["mask"]: r for r in mask_statistics(bundled_pair, ("ibm", "cirm", "cirm:max=1"), 1022, 256, window)}
    for row in stats.values():
        assert row["mix_adjacent_corr"] == pytest.approx(corr, abs=0.01)
    assert stats["cirm"]["share_large"] > 0.1 and stats["cirm"]["error_large"] > 0.5
    assert stats["cirm:max=1"]["share_large"] == 0.0 and stats["ibm"]["share_large"] == 0.0
    assert stats["cirm:max=1"]["mask_adjacent_corr"] > stats["cirm"]["mask_adjacent_corr"]


def test_mask_statistics_count_large_bins_by_hand():
    """Sources a and -a / 2: the cIRM is 2 and -1 at every bin, whatever the window."""
    n_fft, hop = 62, 16
    t = np.arange(4000) / 8000
    a = torch.tensor(np.sin(2 * np.pi * 1000 * t), dtype=torch.float32)
    rows = mask_statistics(torch.stack([a, -0.5 * a]), ("cirm", "cirm:max=1"), n_fft, hop, "hann")
    # S1 / Y = 1 / 0.5 = 2 (large) and S2 / Y = -1 (not): half the (source, bin) pairs, and source 1's
    # share 1 / (1 + 0.25) of the energy; the mask is constant across bins.
    assert rows[0]["share_large"] == pytest.approx(0.5) and rows[0]["energy_large"] == pytest.approx(0.8)
    assert rows[0]["mask_adjacent_corr"] == pytest.approx(1.0, abs=1e-6)
    assert rows[1]["share_large"] == 0.0


def test_separator_window_is_a_model_argument_that_reloads(tmp_path):
    from bssmask.models import MaskSeparator

    model = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"hid_size": 8, "n_layers": 1}, window="hann")
    window = torch.as_tensor(model.encoder.filterbank.window).float()
    assert torch.allclose(window, torch.hann_window(254), atol=1e-6)
    torch.save(model.serialize(), tmp_path / "model.pth")
    reloaded = MaskSeparator.from_pretrained(str(tmp_path / "model.pth"))
    assert reloaded.window == "hann" and reloaded.get_model_args()["window"] == "hann"
    mix = torch.randn(1, 4000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.eval()(mix), reloaded.eval()(mix), atol=1e-6)
    assert MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"hid_size": 8, "n_layers": 1}).window == "sqrt-hann"
    with pytest.raises(ValueError, match="unknown window 'hamming'"):
        MaskSeparator(mask="irm", masker="blstm", window="hamming")


@pytest.mark.parametrize("window", WINDOWS)
def test_synthesize_is_the_decoders_inverse_stft(window):
    from asteroid.utils.torch_utils import pad_x_to_y

    encoder, decoder = make_stft(254, 64, window=window)
    x = torch.randn(2, 3, 3000, generator=torch.Generator().manual_seed(1))
    gains = torch.rand(2, 3, 254 + 2, 1, generator=torch.Generator().manual_seed(2))
    tf = encoder(x.reshape(6, 1, 3000)).reshape(2, 3, 256, -1) * gains
    reference = pad_x_to_y(decoder(tf).reshape(2, 3, -1), x)
    assert torch.allclose(synthesize(decoder, tf, 3000), reference, atol=1e-5)
    assert torch.allclose(synthesize(decoder, encoder(x.reshape(6, 1, 3000)), 3000), x.reshape(6, 1, 3000)[:, 0],
                          atol=1e-5)
    assert synthesize(decoder, tf, 2500).shape == (2, 3, 2500)
