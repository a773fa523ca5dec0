"""The ``bssmask`` command's entry points and one-line errors (exit 2, one line on stderr, nothing written)."""

import subprocess
import sys

import pytest
import soundfile as sf
import torch

from bssmask import __version__
from bssmask.cli import main
from bssmask.data import DEFAULT_SOURCES

FAST = ["--masks", "ibm", "--methods", "nearest", "--spaces", "cartesian", "--upsampled", "mask"]


def bssmask(*argv):
    return subprocess.run([sys.executable, "-m", "bssmask.cli", *map(str, argv)], capture_output=True, text=True)


def cli(argv, capsys):
    """``main(argv)`` in this process: ``(exit code, stdout, stderr)``, argparse's exits included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, command, message):
    assert code == 2, err
    assert err.startswith(f"bssmask {command}: error:") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err, err


def missing_device() -> str:
    """A CUDA device this machine lacks: ``cuda`` without a GPU, ``cuda:N`` past the last one otherwise."""
    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from bssmask.models import MaskSeparator

    torch.manual_seed(0)
    model = MaskSeparator(mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    path = tmp_path_factory.mktemp("model") / "model.pth"
    torch.save(model.serialize(), path)
    return path


def test_no_command_prints_usage_and_version_is_one_line():
    proc = bssmask()
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: bssmask") and "ablate" in proc.stdout and "separate" in proc.stdout
    proc = bssmask("--version")
    assert proc.returncode == 0 and proc.stdout == f"bssmask {__version__}\n"


def test_missing_gpu_is_one_line_from_both_commands(tmp_path, model_file):
    device = missing_device()
    for command, argv in (("ablate", ["--device", device, *FAST]),
                          ("separate", ["--device", device, "--model", model_file, DEFAULT_SOURCES[0]])):
        proc = bssmask(command, *argv, "--out", tmp_path / command)
        assert_one_line_error(proc.returncode, proc.stderr, command, f"device '{device}': this machine has")
        assert not (tmp_path / command).exists()


def test_identical_sources_are_one_line(tmp_path):
    proc = bssmask("ablate", "--sources", DEFAULT_SOURCES[0], DEFAULT_SOURCES[0], *FAST, "--out", tmp_path / "o")
    assert_one_line_error(proc.returncode, proc.stderr, "ablate", "the sources are linearly dependent")
    assert not (tmp_path / "o").exists()


def test_scaled_copy_short_sources_and_bad_options(tmp_path, speech_pair, capsys):
    a, b = speech_pair.numpy()
    sf.write(tmp_path / "a.wav", a, 8000, subtype="FLOAT")
    sf.write(tmp_path / "half_a.wav", 0.5 * a, 8000, subtype="FLOAT")
    sf.write(tmp_path / "a100.wav", a[:100], 8000)
    sf.write(tmp_path / "b100.wav", b[:100], 8000)
    (tmp_path / "taken").write_text("a file, not a folder\n")
    out = tmp_path / "out"
    for argv, message in (
        (["--sources", tmp_path / "a.wav", tmp_path / "half_a.wav"], "half_a.wav: the sources are linearly dependent"),
        (["--sources", tmp_path / "a100.wav", tmp_path / "b100.wav"],
         "b100.wav: 100 samples, shorter than one STFT frame (--n-fft 1022)"),
        (["--max-mixtures", "0"], "argument --max-mixtures: expected a positive integer, got 0"),
        (["--max-mixtures", "two"], "argument --max-mixtures: expected a positive integer, got 'two'"),
        (["--device", "gpu"], "device 'gpu': not a torch device"),
    ):
        code, _, err = cli(["ablate", *argv, *FAST, "--out", out], capsys)
        assert_one_line_error(code, err, "ablate", message)
        assert not out.exists()
    code, _, err = cli(["ablate", *FAST, "--out", tmp_path / "taken"], capsys)
    assert_one_line_error(code, err, "ablate", "taken: exists and is not a folder")
    assert (tmp_path / "taken").read_text() == "a file, not a folder\n"


def test_max_mixtures_scores_that_many(tmp_path, speech_pair, capsys):
    import json

    for s in (1, 2):
        (tmp_path / "ds" / f"s{s}").mkdir(parents=True)
        for k in range(3):
            sf.write(tmp_path / "ds" / f"s{s}" / f"m{k}.wav", speech_pair[s - 1, k * 4000:(k + 1) * 4000].numpy(), 8000)
    code, _, err = cli(["ablate", "--dataset", tmp_path / "ds", "--max-mixtures", "2", *FAST, "--out", tmp_path / "o"],
                       capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "o" / "ablation.json").read_text())["config"]["n_mixtures"] == 2


def test_separate_errors(tmp_path, model_file, capsys):
    (tmp_path / "taken").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "notes.txt").write_text("no audio here")
    for argv, message in (
        ([DEFAULT_SOURCES[0], "--out", tmp_path / "taken"], "taken: exists and is not a folder"),
        ([tmp_path / "empty_dir", "--out", tmp_path / "o"], "empty_dir: a folder without audio files"),
        ([DEFAULT_SOURCES[0], "--device", "cuda:x", "--out", tmp_path / "o"], "device 'cuda:x': not a torch device"),
    ):
        code, _, err = cli(["separate", "--model", model_file, *argv], capsys)
        assert_one_line_error(code, err, "separate", message)
        assert not (tmp_path / "o").exists()
    assert (tmp_path / "taken").read_text() == "x"
    code, _, err = cli(["separate", DEFAULT_SOURCES[0], "--out", tmp_path / "o"], capsys)
    assert_one_line_error(code, err, "separate", "the following arguments are required: --model")
