"""Bad input through every entry point: the recipe stages (subprocess), the CLI and the Python API.

Each case must end with a one-line error naming the file or option, a
non-zero exit (or :class:`bssmask.data.librimix.DataError` and the other
documented exceptions in Python), and no output that looks like a result.
Silent sources are normal input: they evaluate to finite metrics.
"""

import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from asteroid.models import DCUNet

from bssmask import recipe_config
from bssmask.data import DEFAULT_SOURCES
from bssmask.data.librimix import DataError, check_split, split_csv
from bssmask.models import MaskSeparator
from bssmask.experiment.build import build_loaders, build_test_loader
from recipe_helpers import build_tiny, copy_recipe, read_rows, run, tiny_flags

TINY = tiny_flags(24, 4, 3)
BASE = ["--conf", "conf.yml", "--conf", "local/quick.yml", *TINY, "--progress_bar", "false",
        "--masker_kwargs", "{n_layers: 1, hid_size: 16}", "--segment", "0.5", "--epochs", "1", "--num_workers", "1"]


@pytest.fixture(scope="module")
def recipe_copy(tmp_path_factory):
    """A recipe copy with an (untrained) model file of its config; needs no voices."""
    recipe = copy_recipe(tmp_path_factory.mktemp("bad"))
    torch.manual_seed(0)
    model = MaskSeparator(n_src=2, mask="cirm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16},
                          mask_options={"bound": "tanh"})
    torch.save(model.serialize(), recipe / "model.pth")
    return recipe


@pytest.fixture(scope="module")
def recipe(recipe_copy):
    """The recipe copy with a tiny corpus built from the Asterisk voices."""
    build_tiny(recipe_copy, TINY)
    return recipe_copy


def corrupt_split(recipe, name, change):
    """A copy of the tiny test split (CSV and files) at ``data/<name>``, changed by ``change(rows, folder)``
    (in place, or the rows it returns; none: an empty CSV file)."""
    src = recipe / "data" / "tiny" / "test"
    dest = recipe / "data" / name
    dest.mkdir()
    csv_path = split_csv(src)
    rows = read_rows(csv_path)
    for row in rows:
        for key in [k for k in row if k.endswith("_path")]:
            copy = dest / "wav" / key / f"{row['mixture_ID']}.wav"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(row[key], copy)
            row[key] = str(copy)
    changed = change(rows, dest)
    rows = rows if changed is None else changed
    with open(dest / csv_path.name, "w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return dest


def _rewrite(path, data, rate=8000, subtype="FLOAT"):
    sf.write(path, data, rate, subtype=subtype)


def drop_length(rows, _):
    return [{k: v for k, v in row.items() if k != "length"} for row in rows]


def empty_csv(rows, _):
    return []


def missing_file(rows, _):
    rows[1]["source_2_path"] = rows[1]["source_2_path"].replace(".wav", "_gone.wav")


def empty_file(rows, _):
    open(rows[0]["source_1_path"], "wb").close()


def text_file(rows, _):
    with open(rows[0]["source_1_path"], "w") as handle:
        handle.write("mixture_ID,notes\nthis is not audio\n")


def truncated_file(rows, _):
    path = rows[0]["mixture_path"]
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])


def nan_samples(rows, _):
    wav, _ = sf.read(rows[2]["source_2_path"], dtype="float32")
    wav[::400] = np.nan  # in every training excerpt
    _rewrite(rows[2]["source_2_path"], wav)


def short_source(rows, _):
    wav, _ = sf.read(rows[0]["source_1_path"], dtype="float32")
    _rewrite(rows[0]["source_1_path"], wav[:-800])


def long_source(rows, _):
    wav, _ = sf.read(rows[0]["source_2_path"], dtype="float32")
    _rewrite(rows[0]["source_2_path"], np.concatenate([wav, wav[:400]]))


def stereo_mixture(rows, _):
    wav, _ = sf.read(rows[0]["mixture_path"], dtype="float32")
    _rewrite(rows[0]["mixture_path"], np.stack([wav, wav], axis=1))


def other_rate(rows, _):
    wav, _ = sf.read(rows[0]["source_1_path"], dtype="float32")
    _rewrite(rows[0]["source_1_path"], wav, rate=16000)


#: name: (change of the test split, what the one-line error says)
CASES = {
    "no_length_column": (drop_length, r"mixture_test_mix_clean.csv: missing column\(s\) length"),
    "empty_csv": (empty_csv, r"mixture_test_mix_clean.csv: empty file; a mixture list has a header row"),
    "missing_file": (missing_file, r"_gone.wav: listed in .*mixture_test_mix_clean.csv but no such file"),
    "empty_file": (empty_file, r"source_1_path/.*\.wav: not a readable audio file"),
    "non_audio": (text_file, r"source_1_path/.*\.wav: not a readable audio file"),
    "truncated": (truncated_file, r"mixture_path/.*\.wav: \d+ samples, but .* gives its mixture \d+"),
    "nan_samples": (nan_samples, r"source_2_path/.*\.wav: NaN or infinite samples"),
    "short_source": (short_source, r"source_1_path/.*\.wav: \d+ samples, but .* gives its mixture \d+"),
    "long_source": (long_source, r"source_2_path/.*\.wav: \d+ samples, but .* gives its mixture \d+"),
    "multichannel": (stereo_mixture, r"mixture_path/.*\.wav: 2 channels; the recipe expects mono files"),
    "sample_rate": (other_rate, r"source_1_path/.*\.wav: 16000 Hz; the config's sample_rate is 8000"),
}


def one_line_error(proc, script, pattern):
    """Exit 2, and a last stderr line ``<script>: error: ...`` matching ``pattern``, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith(f"{script}: error: "), proc.stderr[-3000:]
    assert re.search(pattern, lines[-1]), (pattern, lines[-1])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


STAGE_CASES = [("eval", case) for case in CASES] + [
    ("train", case) for case in ("no_length_column", "empty_csv", "missing_file", "sample_rate", "multichannel",
                                 "nan_samples")]


@pytest.mark.voices
@pytest.mark.parametrize("stage,case", STAGE_CASES)
def test_recipe_stage_refuses_bad_data(recipe, stage, case):
    change, pattern = CASES[case]
    split = corrupt_split(recipe, f"{stage}_{case}", change)
    exp = recipe / "exp" / f"{stage}_{case}"
    if stage == "eval":
        flags, key = ["--test_dir", str(split), "--model", "model.pth"], "test_dir"
    else:
        flags, key = ["--train_dir", str(split), "--batch_size", "1"], "train_dir"
    proc = run(recipe, sys.executable, f"../common/{stage}.py", *BASE, *flags, "--exp_dir", str(exp), expect=2)
    one_line_error(proc, f"{stage}.py", pattern)
    assert not (exp / "eval").exists() and not (exp / "best_model.pth").exists()
    assert not (exp / "checkpoints").exists()
    # The Python API raises the documented exception with the same message.
    conf = recipe_config.load(recipe / "conf.yml", [recipe / "local" / "quick.yml"])
    conf["data"].update(valid_dir=str(recipe / "data" / "tiny" / "dev"), segment=0.5, **{key: str(split)})
    conf["training"].update(num_workers=0, batch_size=1)
    with pytest.raises(DataError, match=pattern):  # when the loader is built, or when the item is read
        for _ in build_test_loader(conf) if stage == "eval" else build_loaders(conf)[0]:
            pass


#: name: (config section, key and value for training on the tiny dev split, four 1 s mixtures, what the one-line
#: error says)
LENGTH_CASES = {
    "all_shorter_than_segment": ("data", "segment", 1.5, r"mixture_dev_mix_clean.csv: all 4 mixtures are shorter "
                                 r"than the 1.5 s segment \(the longest is 1.00 s\); lower --segment to 1.00 or less$"),
    "fewer_than_a_batch": ("training", "batch_size", 5, r"mixture_dev_mix_clean.csv: 4 mixtures of at least the 0.5 s "
                           r"segment, fewer than a batch of 5; lower --batch_size to 4, or --segment, or list more"),
}


@pytest.mark.voices
@pytest.mark.parametrize("case", list(LENGTH_CASES))
def test_training_refuses_a_split_without_a_batch_of_segments(recipe, case):
    """Asteroid drops the mixtures shorter than the segment, training drops its last partial batch: a training
    split left without one full batch stops before training, naming the CSV and the flag to lower."""
    section, key, value, pattern = LENGTH_CASES[case]
    exp = recipe / "exp" / f"train_{case}"
    proc = run(recipe, sys.executable, "../common/train.py", *BASE, "--train_dir", "data/tiny/dev",
               f"--{key}", str(value), "--exp_dir", str(exp), expect=2)
    one_line_error(proc, "train.py", pattern)
    assert not exp.exists()
    conf = recipe_config.load(recipe / "conf.yml", [recipe / "local" / "quick.yml"])
    conf["data"].update(train_dir=str(recipe / "data" / "tiny" / "dev"), segment=0.5)
    conf["training"].update(num_workers=0, batch_size=2)
    conf[section][key] = value
    with pytest.raises(DataError, match=pattern):
        build_loaders(conf)


@pytest.mark.voices
def test_one_mixture_validates(recipe):
    """A validation set smaller than a batch keeps its partial batch: one mixture, one batch of one."""
    split = corrupt_split(recipe, "one_mixture", lambda rows, _: rows[:1])
    conf = recipe_config.load(recipe / "conf.yml", [recipe / "local" / "quick.yml"])
    conf["data"].update(train_dir=str(recipe / "data" / "tiny" / "train"), valid_dir=str(split), segment=0.5)
    conf["training"].update(num_workers=0, batch_size=4)
    train, valid = build_loaders(conf)
    batches = list(valid)
    assert len(batches) == 1 and batches[0][0].shape == (1, 4000) and batches[0][1].shape == (1, 2, 4000)
    mixture, _ = sf.read(read_rows(split_csv(split))[0]["mixture_path"], dtype="float32")
    excerpt = batches[0][0][0].numpy()
    assert any(np.allclose(mixture[k:k + 4000], excerpt, atol=1e-6) for k in range(len(mixture) - 3999))
    assert all(batch[0].shape == (4, 4000) for batch in train)


@pytest.mark.voices
def test_a_bad_held_out_test_set_stops_evaluation_before_any_output(recipe):
    """eval.py checks every test set (seen, held-out, same-voice) before it scores one."""
    change, pattern = CASES["missing_file"]
    split = corrupt_split(recipe, "unseen_missing_file", change)
    exp = recipe / "exp" / "unseen_missing_file"
    proc = run(recipe, sys.executable, "../common/eval.py", *BASE, "--test_unseen_dir", str(split),
               "--model", "model.pth", "--exp_dir", str(exp), expect=2)
    one_line_error(proc, "eval.py", pattern)
    assert not exp.exists()


def test_silent_source_evaluates_to_finite_metrics(recipe):
    def silence_first_source(rows, _):
        wav, _ = sf.read(rows[0]["source_1_path"], dtype="float32")
        other, _ = sf.read(rows[0]["source_2_path"], dtype="float32")
        _rewrite(rows[0]["source_1_path"], np.zeros_like(wav))
        _rewrite(rows[0]["mixture_path"], other)

    split = corrupt_split(recipe, "silent", silence_first_source)
    assert check_split(split, 8000, 2).is_file()
    exp = recipe / "exp" / "silent"
    run(recipe, sys.executable, "../common/eval.py", *BASE, "--test_dir", str(split), "--model", "model.pth",
        "--exp_dir", str(exp))
    rows = read_rows(exp / "eval" / "metrics.csv")
    assert len(rows) == 3
    # The mixture's scores are those of its active source; SIR and SAR, which
    # project on every reference, are undefined (empty cells), never NaN.
    for metric in ("sdr", "si_sdr", "stoi", "input_si_sdr"):
        assert np.isfinite(float(rows[0][metric])), (metric, rows[0])
    assert rows[0]["sir"] == rows[0]["sar"] == ""
    assert "nan" not in (exp / "eval" / "metrics.csv").read_text().lower()


@pytest.mark.voices
def test_model_of_another_class_or_n_src(recipe, tmp_path):
    dcunet = DCUNet("DCUNet-10", n_src=2, sample_rate=8000)
    torch.save(dcunet.serialize(), tmp_path / "dcunet.pth")
    three = MaskSeparator(n_src=3, mask="irm", masker="blstm", masker_kwargs={"n_layers": 1, "hid_size": 16})
    torch.save(three.serialize(), tmp_path / "three.pth")
    for name, pattern in (("dcunet", r"dcunet.pth: not a bssmask model file \(it holds a DCUNet, not a MaskSeparator"),
                          ("three", r"three.pth: model separates 3 sources but the data has 2")):
        exp = tmp_path / f"exp_{name}"
        proc = run(recipe, sys.executable, "../common/eval.py", *BASE, "--model", str(tmp_path / f"{name}.pth"),
                   "--exp_dir", str(exp), expect=2)
        one_line_error(proc, "eval.py", pattern)
        assert not exp.exists()


@pytest.mark.voices
def test_resume_from_a_checkpoint_of_another_model(recipe):
    exp = recipe / "exp" / "resume_other"
    run(recipe, sys.executable, "../common/train.py", *BASE, "--exp_dir", str(exp))
    last = exp / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    for flags, pattern in ((["--masker_kwargs", "{n_layers: 1, hid_size: 24}"],
                            r"holds another model than the config's \(.* has shape"),
                           (["--masker", "dprnn", "--masker_kwargs", "{}"],
                            r"holds another model than the config's \(missing ")):
        proc = run(recipe, sys.executable, "../common/train.py", *BASE, *flags, "--exp_dir", str(exp),
                   "--resume", "true", "--epochs", "2", expect=2)
        one_line_error(proc, "train.py", r"--resume true: .*last.ckpt " + pattern)
    assert last.read_bytes() == before


def test_config_file_errors_list_the_valid_keys(recipe_copy):
    (recipe_copy / "bad_key.yml").write_text("training:\n  epochz: 3\n")
    proc = run(recipe_copy, sys.executable, "../common/train.py", "--conf", "conf.yml", "--conf", "bad_key.yml",
               "--exp_dir", "exp/bad_key", expect=2)
    one_line_error(proc, "train.py", r"bad_key.yml: unknown key training.epochz; valid keys of training: epochs")
    (recipe_copy / "bad_type.yml").write_text("optim:\n  lr: fast\n")
    proc = run(recipe_copy, sys.executable, "../common/eval.py", "--conf", "conf.yml", "--conf", "bad_type.yml",
               "--exp_dir", "exp/bad_type", expect=2)
    one_line_error(proc, "eval.py", r"bad_type.yml: optim.lr: expected float, got 'fast'")
    proc = run(recipe_copy, sys.executable, "../common/train.py", *BASE, "--lr_milestones", "[3, 2]",
               "--exp_dir", "exp/bad_value", expect=2)
    one_line_error(proc, "train.py", r"lr_milestones: expected increasing positive epochs, got \[3, 2\]$")
    assert not any((recipe_copy / "exp" / name).exists() for name in ("bad_key", "bad_type", "bad_value"))


def test_training_refuses_a_head_that_does_not_honour_the_kinds_bound(recipe_copy):
    proc = run(recipe_copy, sys.executable, "../common/train.py", *BASE, "--mask_options", "{bound: compressed, max: 2}",
               "--exp_dir", "exp/bad_bound", expect=2)
    one_line_error(proc, "train.py", r"cirm max=2 bounds the mask's magnitude, which bound='compressed' does not "
                                     r"\(it bounds each part by K=10\): use bound='tanh' \(\|z\| < max\) or drop max$")
    assert proc.stderr.count("\n") == 1 and not (recipe_copy / "exp" / "bad_bound").exists()


@pytest.mark.parametrize("command", ["ablate", "separate"])
def test_cli_bad_audio_one_line_exit_2(recipe_copy, tmp_path, command):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio\n")
    wav, _ = sf.read(DEFAULT_SOURCES[0], dtype="float32")  # 8 kHz speech
    nan = wav.copy()
    nan[10] = np.nan
    _rewrite(tmp_path / "nan.wav", nan)
    _rewrite(tmp_path / "stereo.wav", np.stack([wav, wav], axis=1))
    _rewrite(tmp_path / "ok.wav", wav)
    stereo = [("stereo.wav", "stereo.wav: expected mono audio, found 2 channels")] if command == "ablate" else []
    for bad, message in [("missing.wav", "missing.wav: no such file"), ("empty.wav", "empty.wav: file is empty"),
                         ("text.wav", "text.wav: not a readable audio file"),
                         ("nan.wav", "nan.wav: contains NaN or Inf samples"), *stereo]:  # separate downmixes
        out = tmp_path / f"out_{command}"
        files = [str(tmp_path / "ok.wav"), str(tmp_path / bad)]
        argv = (["ablate", "--sources", *files] if command == "ablate"
                else ["separate", "--model", str(recipe_copy / "model.pth"), *files])
        proc = subprocess.run([sys.executable, "-m", "bssmask.cli", *argv, "--out", str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert proc.stderr.startswith(f"bssmask {command}: error:") and proc.stderr.count("\n") == 1, proc.stderr
        assert message in proc.stderr, (message, proc.stderr)
        assert not out.exists()


def test_data_stage_refuses_a_bad_source_dir(recipe_copy, tmp_path):
    one_speaker = tmp_path / "voices"
    (one_speaker / "alpha").mkdir(parents=True)
    sf.write(one_speaker / "alpha" / "a.wav", np.zeros(8000, dtype=np.float32), 8000)
    for source_dir, pattern in ((tmp_path / "nowhere", r"nowhere"), (one_speaker, r"at least two speaker")):
        proc = run(recipe_copy, "./run.sh", "--stop_stage", "0", "--storage_dir", str(tmp_path / "corpus"),
                   "--source_dir", str(source_dir), expect=2)
        one_line_error(proc, "prepare_data.py", pattern)
        assert not (tmp_path / "corpus").exists()


def test_bad_flags_fail_with_one_line(recipe_copy):
    proc = subprocess.run(["./run.sh", "--quick", "true", "--stage", "1", "--lrr", "0.1"], cwd=recipe_copy,
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("train.py: error: unknown option --lrr; valid config flags:")
    proc = subprocess.run([sys.executable, "../common/train.py", "--exp_dir", "exp/x", "--epochs", "two"],
                          cwd=recipe_copy, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == "train.py: error: --epochs: expected int, got 'two' (str)"
