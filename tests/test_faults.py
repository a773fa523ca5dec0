"""Faults during a recipe run: SIGKILL in the middle of training or of the data stage.

A tiny Asterisk2Mix corpus and model keep these in the default suite: the
interrupted-and-resumed training must end with the weights and validation
loss of an uninterrupted run of the same seed, and an interrupted data stage
must be completed by a rerun.
"""

import os
import signal
import subprocess
import sys

import pytest
import torch

from bssmask.checkpoint import load_safe
from bssmask.data.librimix import split_csv

from recipe_helpers import QUICK, build_tiny, copy_recipe, read_rows, run, tiny_flags

pytestmark = pytest.mark.voices

TINY = tiny_flags(48, 8, 4)
TRAIN = ["--segment", "0.5", "--batch_size", "4", "--num_workers", "1", "--epochs", "3", "--early_stop", "false",
         "--masker_kwargs", "{n_layers: 1, hid_size: 32}", "--logger", "csv", "--progress_bar", "false"]
KILL_EPOCH, KILL_BATCH = 2, 5

# train.py with a callback that sends SIGKILL to its own process at a given epoch and batch.
KILLED_TRAIN = """
import os, runpy, signal, sys
import pytorch_lightning as pl
import bssmask.experiment.build

class Kill(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == ({epoch}, {batch}):
            os.kill(os.getpid(), signal.SIGKILL)

build = bssmask.experiment.build.build_trainer
bssmask.experiment.build.build_trainer = lambda *a, extra_callbacks=(), **k: build(*a, extra_callbacks=[*extra_callbacks, Kill()], **k)
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path("../common/train.py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A recipe copy with a tiny corpus (48 training mixtures of 1 s)."""
    recipe = copy_recipe(tmp_path_factory.mktemp("faults"))
    build_tiny(recipe, TINY)
    return recipe


def args(recipe, tag):
    return ["--conf", "conf.yml", "--conf", "local/quick.yml", *TINY, *TRAIN, "--exp_dir", f"exp/{tag}"]


def final_state(recipe, tag):
    """Weights of the last checkpoint, its epoch and step, and the best validation loss."""
    last = torch.load(recipe / "exp" / tag / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    best = load_safe(recipe / "exp" / tag / "best_model.pth")["infos"]["training"]["best_val_loss"]
    return last["state_dict"], (last["epoch"], last["global_step"]), best


def test_sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run(tiny):
    run(tiny, sys.executable, "../common/train.py", *args(tiny, "whole"))

    killed = subprocess.run([sys.executable, "-c", KILLED_TRAIN.format(epoch=KILL_EPOCH, batch=KILL_BATCH),
                             *args(tiny, "killed")], cwd=tiny, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    last = torch.load(tiny / "exp" / "killed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    steps_per_epoch = 48 // 4
    assert (last["epoch"], last["global_step"]) == (KILL_EPOCH - 1, KILL_EPOCH * steps_per_epoch)
    assert not (tiny / "exp" / "killed" / "best_model.pth").exists()

    run(tiny, sys.executable, "../common/train.py", *args(tiny, "killed"), "--resume", "true")
    weights, progress, best = final_state(tiny, "killed")
    weights_whole, progress_whole, best_whole = final_state(tiny, "whole")
    assert progress == progress_whole == (2, 3 * steps_per_epoch)
    # Same seed, one thread: the resumed run retraces the uninterrupted one.
    assert best == pytest.approx(best_whole, abs=1e-5)
    for name, value in weights_whole.items():
        torch.testing.assert_close(weights[name], value, atol=1e-5, rtol=0, msg=name)
    # The resumed run logs apart and keeps the logs of the killed one (epochs 0 and 1).
    def val_losses(path):
        return [float(r["val_loss"]) for r in read_rows(path) if r.get("val_loss")]

    logs = tiny / "exp" / "killed" / "logs"
    whole = val_losses(tiny / "exp" / "whole" / "logs" / "metrics.csv")
    assert val_losses(logs / "metrics.csv") == pytest.approx(whole[:2], abs=1e-6)
    assert val_losses(logs / "resumed_1" / "metrics.csv") == pytest.approx(whole[2:], abs=1e-5)


# The recipe's Python, with soundfile.write sending SIGKILL to the whole stage
# (run.sh and Python) right after the {writes}th file it writes.
KILLED_WRITER = """#!{python}
import os, runpy, signal, sys
import soundfile

write, count = soundfile.write, [0]

def write_then_kill(*args, **kwargs):
    write(*args, **kwargs)
    count[0] += 1
    if count[0] == {writes}:
        os.killpg(0, signal.SIGKILL)

soundfile.write = write_then_kill
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as `python script.py` does
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_killed_data_stage_leaves_no_corpus_and_a_rerun_completes_it(tmp_path):
    recipe = copy_recipe(tmp_path)
    stage0 = ["./run.sh", "--quick", "true", "--stop_stage", "0", "--storage_dir", "data/k",
              "--train_dir", "data/k/train", "--valid_dir", "data/k/dev", "--test_dir", "data/k/test"]
    killing_python = tmp_path / "killing_python"
    killing_python.write_text(KILLED_WRITER.format(python=sys.executable, writes=5))
    killing_python.chmod(0o755)
    proc = subprocess.run(stage0, cwd=recipe, env={**os.environ, "PYTHON": str(killing_python)},
                          capture_output=True, text=True, start_new_session=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    storage = recipe / "data" / "k"
    assert len(list(storage.glob(".Asterisk2Mix.tmp-*/**/*.wav"))) == 5  # killed while writing mixtures
    # Nothing that looks like a corpus or a split list.
    assert not (storage / "Asterisk2Mix").exists()
    assert not list(storage.glob("*/*.csv"))

    run(recipe, *stage0)
    assert not list(storage.glob(".Asterisk2Mix.tmp-*")), "the killed build's temporary folder or lock is left"
    for split in ("train", "dev", "test"):
        assert len(read_rows(split_csv(storage / split))) == QUICK["corpus"][f"n_{split}"]
    built = {p: p.stat().st_mtime_ns for p in (storage / "Asterisk2Mix").rglob("*") if p.is_file()}

    run(recipe, *stage0)  # a finished data stage: nothing is rewritten
    assert {p: p.stat().st_mtime_ns for p in (storage / "Asterisk2Mix").rglob("*") if p.is_file()} == built
