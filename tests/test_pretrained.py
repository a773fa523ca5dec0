"""Bundled models: written by the recipe's ``local/bundle_model.py``, loaded by name, weights-only."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from bssmask import checkpoint
from bssmask.audio import load_sources
from bssmask.cli import main
from bssmask.data import DEFAULT_SOURCES
from bssmask.metrics import si_sdr
from bssmask.models import MaskSeparator

DEFAULT = checkpoint.PRETRAINED_DIR / "default.pth"


def test_package_data_ships_the_bundled_models():
    from setuptools.config.setupcfg import read_configuration

    setup_cfg = Path(__file__).resolve().parents[1] / "setup.cfg"
    package_data = read_configuration(setup_cfg)["options"]["package_data"]
    assert {"pretrained/*.pth", "pretrained/*.md"} <= set(package_data["bssmask"])


def _best_permutation_si_sdr(sources: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    """SI-SDR ``[2]`` of two estimates in the order that scores best."""
    straight, swapped = si_sdr(sources, estimates), si_sdr(sources, estimates.flip(0))
    return straight if straight.mean() >= swapped.mean() else swapped


@pytest.fixture(scope="module")
def clips_mixture(tmp_path_factory):
    """The bundled clips (two prompts, 10 s at 8 kHz) and their sum written as ``mix.wav``."""
    sources, rate, _ = load_sources(DEFAULT_SOURCES)
    folder = tmp_path_factory.mktemp("clips")
    sf.write(folder / "mix.wav", sources.sum(0).numpy(), rate, subtype="FLOAT")
    return sources, folder / "mix.wav"


def _separate(model, mix, out):
    """``bssmask separate --model MODEL mix --out OUT`` under umask 022: the completed process."""
    return subprocess.run(["sh", "-c", 'umask 022 && exec "$0" -m bssmask.cli separate "$@"', sys.executable,
                           "--model", str(model), str(mix), "--out", str(out)], capture_output=True, text=True)


def _check_separated(sources, out) -> torch.Tensor:
    """Check the two files (readable by others, the input's length); their SI-SDR improvement ``[2]`` (dB)."""
    files = [out / f"mix_s{k}.wav" for k in (1, 2)]
    assert sorted(out.iterdir()) == files
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o644 for f in files)
    estimates = torch.stack([torch.from_numpy(sf.read(f, dtype="float32")[0]) for f in files])
    assert estimates.shape == sources.shape
    return _best_permutation_si_sdr(sources, estimates) - si_sdr(sources, sources.sum(0).expand_as(sources))


@pytest.mark.skipif(not DEFAULT.is_file(), reason="bssmask/pretrained/default.pth is not built yet "
                                                  "(recipes/asterisk2mix/local/bundle_model.py)")
def test_default_model_separates_the_bundled_clips(clips_mixture, tmp_path):
    sources, mix = clips_mixture
    assert DEFAULT.stat().st_size < 8 * 2**20 and DEFAULT.with_suffix(".md").is_file()
    assert set(checkpoint.load_safe(DEFAULT)) == {"model_name", "model_args", "state_dict", "infos"}
    model = MaskSeparator.from_pretrained("default")
    assert model.sample_rate == 8000 and model.n_src == 2
    proc = _separate("default", mix, tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    improvement = _check_separated(sources, tmp_path / "o")
    assert improvement.mean() > 0, improvement  # SI-SDRi, mean over the two sources


@pytest.mark.voices
def test_bundle_tool_writes_a_small_named_model_with_its_card(quick_recipe, clips_mixture, tmp_path, monkeypatch,
                                                              capsys):
    recipe, _ = quick_recipe
    out = tmp_path / "pretrained"
    proc = subprocess.run([sys.executable, "local/bundle_model.py", "--exp_dir", "exp/quick", "--name", "quick",
                           "--out", str(out), "--command", "./run.sh --quick true"],
                          cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    package = checkpoint.load_safe(out / "quick.pth")  # weights-only
    assert set(package) == {"model_name", "model_args", "state_dict", "infos"}
    assert "checkpoint" not in package["infos"]["training"] and package["infos"]["training"]["epochs"] == 2
    assert (out / "quick.pth").stat().st_size < 8 * 2**20
    original = checkpoint.load_safe(recipe / "exp" / "quick" / "best_model.pth")["state_dict"]
    assert all(torch.equal(original[k], v) for k, v in package["state_dict"].items())
    card = (out / "quick.md").read_text()
    seen = json.loads((recipe / "exp" / "quick" / "eval" / "summary.json").read_text())
    assert f"| seen voices (`test`) | {seen['n_mixtures']} | {seen['si_sdr']:.2f} | {seen['si_sdr_imp']:.2f} |" in card
    unseen = recipe / "exp" / "quick" / "eval_unseen" / "summary.json"
    held_out = json.loads(unseen.read_text())["si_sdr_imp"] if unseen.is_file() else None
    assert (f"| {held_out:.2f} |" if held_out is not None else "| held-out voices (`test_unseen`) | not yet measured |") \
        in card
    assert "`./run.sh --quick true`" in card.replace("cd recipes/asterisk2mix && ", "")
    assert "| allison | Allison Smith |" in card and "CC BY-SA 3.0" in card and "CC BY 3.0" in card
    # Loaded by name, as the bundled default is.
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", out)
    assert checkpoint.bundled_models() == ["quick"]
    assert MaskSeparator.from_pretrained("quick").mask == package["model_args"]["mask"]
    assert main(["separate", "--model", "quick", str(clips_mixture[1]), "--out", str(tmp_path / "sep")]) == 0
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == ["mix_s1.wav", "mix_s2.wav"]
    capsys.readouterr()


def test_unknown_model_name_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "default.pth").write_bytes(b"")
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path)

    def offline(*args):
        raise OSError("offline")

    monkeypatch.setattr(checkpoint.socket, "getaddrinfo", offline)
    code = main(["separate", "--model", "defualt", str(DEFAULT_SOURCES[0]), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "o").exists()
    assert "defualt: not a local file or a bundled model (default), and fetching it from huggingface.co failed " \
           "(offline)" in err
