"""The Asterisk2Mix recipe end to end: quick run of every stage, two-process DDP, resume.

The recipe folder is copied to a temporary folder, so its ``data/`` and
``exp/`` stay there. Needs the Asterisk prompts (the corpus's speech).
"""

import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bssmask.checkpoint import load_safe
from bssmask.data.corpus_options import ALL_SPLITS
from bssmask.data.librimix import split_csv
from recipe_helpers import QUICK, RECIPE, first_mixtures, read_rows, run
from test_listening import check_links

N_TEST = QUICK["corpus"]["n_test"]
HEADS = QUICK["report"]["heads"]
PEERS = QUICK["report"]["peers"]

pytestmark = pytest.mark.voices


@pytest.fixture(scope="module")
def recipe(quick_recipe):
    return quick_recipe[0]


@pytest.fixture(scope="module")
def quick(quick_recipe):
    """The output of ``./run.sh --quick true`` (every stage on the quick corpus)."""
    return quick_recipe[1]


def test_quick_recipe_data_stage(recipe, quick):
    for split in ALL_SPLITS:
        rows = read_rows(split_csv(recipe / "data" / "quick" / split))
        assert len(rows) == QUICK["corpus"][f"n_{split}"]
        assert Path(rows[0]["mixture_path"]).is_file()


def test_quick_corpus_holds_out_voices(recipe, quick):
    """The voices of test_unseen (Menardi, Armelle) are in no training or validation mixture; dev_unseen's (July)
    in no other split."""
    metadata = recipe / "data" / "quick" / "Asterisk2Mix" / "wav8k" / "max" / "metadata"
    heard = {split: {row[f"speaker_{k}"] for row in read_rows(metadata / f"sources_{split}.csv") for k in (1, 2)}
             for split in ALL_SPLITS}
    assert heard["test_unseen"] == {"menardi", "armelle"}
    assert not heard["test_unseen"] & (heard["train"] | heard["dev"] | heard["test"] | heard["dev_unseen"])
    assert heard["train"] == heard["dev"] == heard["test"] == {"allison", "june", "carlo", "ivrvoiceru"}
    assert "july" in heard["dev_unseen"] and not {"july"} & (heard["train"] | heard["dev"] | heard["test"])
    speakers = json.loads((metadata.parent / "speakers.json").read_text())
    assert {split: set(kinds["recorded"]) for split, kinds in speakers.items()} == heard
    assert not any(kinds["transformed"] or kinds["synthetic"] for kinds in speakers.values())  # off by default


def test_quick_recipe_train_and_eval(recipe, quick):
    exp = recipe / "exp" / "quick"
    assert (exp / "best_model.pth").is_file()
    assert {p.name for p in (exp / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    rows = read_rows(exp / "eval" / "metrics.csv")
    test_ids = [r["mixture_ID"] for r in read_rows(recipe / "data" / "quick" / "test" / "mixture_test_mix_clean.csv")]
    assert [r["mixture_ID"] for r in rows] == test_ids and len(rows) == N_TEST
    for row in rows:
        for metric in ("sdr", "si_sdr", "sir", "sar", "pesq", "stoi", "input_si_sdr"):
            assert math.isfinite(float(row[metric])), (metric, row)
    summary = json.loads((exp / "eval" / "summary.json").read_text())
    assert summary["n_mixtures"] == N_TEST
    assert summary["si_sdr_imp"] > 0, summary  # a short training already separates
    assert summary["si_sdr"] == pytest.approx(sum(float(r["si_sdr"]) for r in rows) / N_TEST)
    assert summary["config"]["model"] == yaml.safe_load((exp / "conf.yml").read_text())["model"]
    assert 1 <= summary["pesq"] <= 4.5 and 0 < summary["stoi"] <= 1
    assert (exp / "eval" / "masks.png").stat().st_size > 10_000
    # The held-out-voice and same-voice test sets, scored the same way.
    for out, split in (("eval_unseen", "test_unseen"), ("eval_dev_unseen", "dev_unseen"),
                       ("eval_same", "test_same")):
        other = json.loads((exp / out / "summary.json").read_text())
        assert other.keys() == summary.keys() and other["n_mixtures"] == N_TEST
        set_rows = read_rows(exp / out / "metrics.csv")
        set_ids = [r["mixture_ID"] for r in read_rows(split_csv(recipe / "data" / "quick" / split))]
        assert [r["mixture_ID"] for r in set_rows] == set_ids
        assert other["si_sdr_imp"] == pytest.approx(sum(float(r["si_sdr"]) - float(r["input_si_sdr"])
                                                        for r in set_rows) / N_TEST)
    example = next((exp / "eval" / "examples").iterdir())
    assert {p.name for p in example.iterdir()} == {"mixture.wav", "s1.wav", "s2.wav", "s1_estimate.wav",
                                                   "s2_estimate.wav"}
    # the first n_save_ex mixtures of the sets the report's listening page plays
    for out in ("eval", "eval_unseen", "eval_same"):
        assert len(list((exp / out / "examples").glob("*/s2_estimate.wav"))) == QUICK["eval"]["n_save_ex"]
    assert not (exp / "eval_dev_unseen" / "examples").exists()


def test_quick_recipe_report(recipe, quick):
    report = recipe / "exp" / "quick" / "report"
    assert {p.name for p in report.iterdir()} == {"report.md", "report.csv", "report.json", "report.png",
                                                  "index.html", "listening"}
    # the listening page: per saved mixture of test, test_unseen and test_same, the mixture, two sources and
    # every head's and peer's two estimates (peers save their examples as heads do)
    page = check_links(report)
    assert len(page.found["audio"]) == 3 * QUICK["eval"]["n_save_ex"] * (3 + 2 * (len(HEADS) + len(PEERS)))
    json_rows = {r["head"]: r for r in json.loads((report / "report.json").read_text())["rows"]}
    assert {name: r["kind"] for name, r in json_rows.items()} == {**{h: "bssmask" for h in HEADS},
                                                                  **{p: "peer" for p in PEERS}}
    for name, row in json_rows.items():
        for column in ("si_sdr_imp", "si_sdr_imp_unseen", "sdr_imp_unseen", "si_sdr_imp_dev_unseen",
                       "si_sdr_imp_same"):
            assert math.isfinite(row[column]), (name, column)
        run = recipe / row["run"]  # runs are named relative to the recipe folder
        assert row["si_sdr_imp"] == pytest.approx(json.loads((run / "eval" / "summary.json").read_text())["si_sdr_imp"])
        unseen = json.loads((run / "eval_unseen" / "summary.json").read_text())
        assert (row["si_sdr_imp_unseen"], row["sdr_imp_unseen"]) == pytest.approx((unseen["si_sdr_imp"],
                                                                                   unseen["sdr_imp"]))
        assert row["seeds"] == 1 and row["si_sdr_imp_std"] is None
    for name in PEERS:
        assert json_rows[name]["oracle_si_sdr"] is None and json_rows[name]["oracle_sdr"] is None
        package = torch.load(recipe / json_rows[name]["run"] / "peer_model.pth", weights_only=True)
        budget = 60 * QUICK["report"]["peer_minutes"]
        assert 0.5 * budget < package["training"]["seconds"] < budget + 30  # trained for its wall-clock budget
    rows = {r["head"]: r for r in read_rows(report / "report.csv") if r["kind"] == "bssmask"}
    for name, row in rows.items():
        assert math.isfinite(float(row["si_sdr"])) and math.isfinite(float(row["oracle_si_sdr"]))
        assert float(row["oracle_si_sdr"]) > float(row["si_sdr"]), name
    # The exact complex oracle at full resolution; frequency downsampling by 2 caps it.
    assert float(rows["cirm"]["oracle_si_sdr"]) > 60
    assert float(rows["cirm_f2"]["oracle_si_sdr"]) < 40
    assert float(rows["irm"]["oracle_si_sdr"]) > 5
    assert "| cirm_f2 |" in quick.stdout


@pytest.fixture(scope="module")
def ddp(recipe, quick):
    """One epoch with two CPU processes (DDP over gloo), on half-second excerpts to keep it short,
    logged with the default config's TensorBoard logger, in bfloat16 mixed precision; the learning rate is
    halved when epoch 1 starts."""
    args = ["--conf", "conf.yml", "--conf", "local/quick.yml", "--accelerator", "cpu", "--devices", "2",
            "--segment", "0.5", "--progress_bar", "false", "--logger", "tensorboard", "--precision", "bf16-mixed",
            "--lr_milestones", "[1]", "--exp_dir", "exp/ddp"]
    first = run(recipe, sys.executable, "../common/train.py", *args, "--epochs", "1")
    return args, first


def checkpoint_state(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["epoch"], state["global_step"]


def test_ddp_training_splits_batches_across_two_processes(recipe, ddp):
    _, proc = ddp
    assert "MEMBER: 1/2" in proc.stderr and "MEMBER: 2/2" in proc.stderr
    assert "Using bfloat16 Automatic Mixed Precision" in proc.stderr
    steps_per_epoch = QUICK["corpus"]["n_train"] // (QUICK["training"]["batch_size"] * 2)
    assert checkpoint_state(recipe / "exp" / "ddp" / "checkpoints" / "last.ckpt") == (0, steps_per_epoch)
    assert (recipe / "exp" / "ddp" / "best_model.pth").is_file()


def test_resume_continues_the_step_count(recipe, ddp):
    args, _ = ddp
    last = recipe / "exp" / "ddp" / "checkpoints" / "last.ckpt"
    _, steps = checkpoint_state(last)
    run(recipe, sys.executable, "../common/train.py", *args, "--epochs", "2", "--resume", "true")
    assert checkpoint_state(last) == (1, 2 * steps)
    package = load_safe(recipe / "exp" / "ddp" / "best_model.pth")
    assert package["infos"]["training"]["global_step"] == 2 * steps
    # TensorBoard holds both epochs' validation losses: the resumed run added its events to logs/.
    events = EventAccumulator(str(recipe / "exp" / "ddp" / "logs"))
    events.Reload()
    val_loss = events.Scalars("val_loss")
    assert [e.step for e in val_loss] == [steps - 1, 2 * steps - 1]
    assert all(math.isfinite(e.value) for e in val_loss)
    # The resumed run restored the milestone schedule: epoch 1 trained at half the configured rate.
    lr = yaml.safe_load((recipe / "conf.yml").read_text())["optim"]["lr"]
    assert [(e.step, e.value) for e in events.Scalars("lr-Adam")] == [(0, pytest.approx(lr)),
                                                                     (steps, pytest.approx(lr / 2))]


def test_ddp_evaluation_scores_each_test_mixture_once(recipe, ddp):
    args, _ = ddp
    proc = run(recipe, sys.executable, "../common/eval.py", *args)
    assert "MEMBER: 2/2" in proc.stderr
    rows = read_rows(recipe / "exp" / "ddp" / "eval" / "metrics.csv")
    test_ids = [r["mixture_ID"] for r in read_rows(recipe / "data" / "quick" / "test" / "mixture_test_mix_clean.csv")]
    assert [r["mixture_ID"] for r in rows] == test_ids
    # One process scores every mixture as the two processes did.
    run(recipe, sys.executable, "../common/eval.py", "--conf", "conf.yml", "--conf", "local/quick.yml", "--devices", "1",
        "--progress_bar", "false", "--exp_dir", "exp/ddp_single", "--model", "exp/ddp/best_model.pth")
    single_rows = read_rows(recipe / "exp" / "ddp_single" / "eval" / "metrics.csv")
    assert [r["mixture_ID"] for r in single_rows] == test_ids
    for two, one in zip(rows, single_rows):
        for metric in ("sdr", "si_sdr", "sir", "sar", "pesq", "stoi"):
            assert float(two[metric]) == pytest.approx(float(one[metric]), abs=1e-4), (metric, two, one)


def test_librimix_recipe_on_a_librimix_layout(recipe, tmp_path):
    """recipes/librimix on a Libri2Mix folder (here made of quick-corpus mixtures): stages 0 to 2."""
    librimix = recipe.parent / "librimix"
    shutil.copytree(RECIPE.parent / "librimix", librimix, ignore=shutil.ignore_patterns("exp", "data"))
    missing = run(librimix, "./run.sh", "--storage_dir", str(tmp_path / "nowhere"), expect=1)
    assert "LibriMix is not downloaded by this recipe" in missing.stderr and "generate_librimix.sh" in missing.stderr

    metadata = tmp_path / "Libri2Mix" / "wav8k" / "min" / "metadata"
    for split, name, n in (("train", "train-360", 64), ("dev", "dev", 8), ("test", "test", 3)):
        first_mixtures(recipe / "data" / "quick" / split, n, metadata / f"mixture_{name}_mix_clean.csv")
    run(librimix, "./run.sh", "--storage_dir", str(tmp_path), "--stop_stage", "2", "--epochs", "1",
        "--segment", "0.5", "--masker_kwargs", "{bn_chan: 16, hid_size: 16, n_repeats: 1}", "--progress_bar", "false",
        "--logger", "csv", "--n_save_ex", "1")
    rows = read_rows(librimix / "exp" / "default" / "eval" / "metrics.csv")
    assert len(rows) == 3 and all(math.isfinite(float(r["si_sdr"])) for r in rows)
