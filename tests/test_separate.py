"""``bssmask separate``: one file per source, input rate and length kept, clear errors."""

import argparse

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from bssmask import cli, separate
from bssmask.audio import AudioError
from bssmask.checkpoint import CheckpointError
from bssmask.models import MaskSeparator


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = MaskSeparator(n_src=2, mask="irm", masker="blstm", sample_rate=8000, n_fft=254, hop=64,
                          masker_kwargs={"n_layers": 1, "hid_size": 16})
    path = tmp_path_factory.mktemp("model") / "best_model.pth"
    torch.save(model.serialize(), path)
    return path


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory, speech_pair):
    """The bundled speech pair mixed at 8 kHz (2 s) and at 16 kHz (a 1.5 s excerpt)."""
    folder = tmp_path_factory.mktemp("inputs")
    mix = speech_pair.sum(0)
    sf.write(folder / "mix8k.wav", mix.numpy(), 8000)
    sf.write(folder / "mix16k.flac", AF.resample(mix[:12000], 8000, 16000).numpy(), 16000)
    return folder


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_separate_arguments(parser)
    return parser.parse_args(argv)


def test_one_file_per_source_with_input_rate_and_length(model_file, mixtures, tmp_path, capsys):
    out = tmp_path / "out"
    args = parse([str(mixtures / "mix8k.wav"), str(mixtures / "mix16k.flac"), "--model", str(model_file),
                  "--out", str(out)])
    assert cli.run_separate(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["mix16k_s1.wav", "mix16k_s2.wav", "mix8k_s1.wav", "mix8k_s2.wav"]
    assert capsys.readouterr().out.split() == [str(out / n) for n in
                                               ("mix8k_s1.wav", "mix8k_s2.wav", "mix16k_s1.wav", "mix16k_s2.wav")]
    for stem, rate, length in (("mix8k", 8000, 16000), ("mix16k", 16000, 24000)):
        estimates = [sf.read(out / f"{stem}_s{k}.wav") for k in (1, 2)]
        assert all(r == rate and len(e) == length for e, r in estimates)
        total = sum(e for e, _ in estimates)
        mix, _ = sf.read(next(mixtures.glob(f"{stem}.*")))
        # An IRM head splits the mixture: the estimates add back up to it (away from the edges).
        assert np.corrcoef(total[2000:-2000], mix[2000:-2000])[0, 1] > 0.95


def test_unreadable_input_names_the_file_and_writes_nothing(model_file, mixtures, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    out = tmp_path / "out"
    with pytest.raises(AudioError, match="notes.wav: not a readable audio file"):
        separate.separate_files(model_file, [mixtures / "mix8k.wav", bad], out)
    assert not out.exists()
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        separate.separate_files(model_file, [tmp_path / "missing.wav"], out)


def test_bad_model_file_and_name_clash(mixtures, tmp_path, model_file):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="junk.pth"):
        separate.separate_files(junk, [mixtures / "mix8k.wav"], tmp_path / "out")
    plain = tmp_path / "weights.pth"
    torch.save({"weights": torch.ones(2)}, plain)
    with pytest.raises(CheckpointError, match="weights.pth: not a bssmask model file"):
        separate.separate_files(plain, [mixtures / "mix8k.wav"], tmp_path / "out")
    other = tmp_path / "other"
    other.mkdir()
    sf.write(other / "mix8k.wav", np.zeros(800), 8000)
    with pytest.raises(ValueError, match="share the name"):
        separate.separate_files(model_file, [mixtures / "mix8k.wav", other / "mix8k.wav"], tmp_path / "out")


def test_console_command_writes_sources_and_reports_bad_input(model_file, mixtures, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "bssmask.cli", "separate", "--model", str(model_file),
                           "--out", str(out), str(mixtures / "mix8k.wav")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mix8k_s1.wav", "mix8k_s2.wav"]
    assert all(len(sf.read(out / f"mix8k_s{k}.wav")[0]) == 16000 for k in (1, 2))
    proc = subprocess.run([sys.executable, "-m", "bssmask.cli", "separate", "--model", str(model_file),
                           "--out", str(tmp_path / "none"), str(tmp_path / "missing.wav")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("bssmask separate: error:") and "missing.wav: no such file" in proc.stderr
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "none").exists()


def test_folders_several_inputs_and_short_files(model_file, mixtures, tmp_path, speech_pair):
    folder = tmp_path / "batch"
    folder.mkdir()
    mix = speech_pair.sum(0).numpy()
    sf.write(folder / "first.wav", mix[:4000], 8000)
    sf.write(folder / "second.flac", mix[4000:8000], 8000)
    sf.write(folder / "tiny.wav", mix[8000:8050], 8000)  # 50 samples: shorter than one STFT frame (254)
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    written = separate.separate_files(model_file, [folder, mixtures / "mix8k.wav"], out, device="auto")
    assert [p.name for p in written] == [f"{stem}_s{k}.wav" for stem in ("first", "second", "tiny", "mix8k")
                                         for k in (1, 2)]
    tiny = np.stack([sf.read(out / f"tiny_s{k}.wav")[0] for k in (1, 2)])
    assert tiny.shape == (2, 50) and np.isfinite(tiny).all() and np.abs(tiny).max() > 0
    # The IRM head splits the mixture: the padded, cut-back estimates still add up to the input.
    assert np.corrcoef(tiny.sum(0), mix[8000:8050])[0, 1] > 0.95
    assert len(sf.read(out / "second_s1.wav")[0]) == 4000
