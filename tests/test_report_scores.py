"""The report's columns from per-seed evaluation summaries: means, spread, missing test sets; its oracle's kind."""

import json
import shutil
import statistics
import sys

import pytest

from bssmask import heads, recipe_config
from bssmask.data import DEFAULT_SOURCES
from bssmask.errors import RunError
from bssmask.experiment import report, runner
from recipe_helpers import COMMON, RECIPE, run


def summary(si_sdr_imp, unseen=None, same=None, dev_unseen=None):
    out = {"eval": {"si_sdr": si_sdr_imp - 0.1, "si_sdr_imp": si_sdr_imp, "sdr": 1.0, "sdr_imp": 2.0, "sir": 3.0,
                    "sar": 4.0, "pesq": 2.0, "stoi": 0.8}}
    if unseen is not None:
        out["eval_unseen"] = {"si_sdr_imp": unseen, "sdr_imp": unseen + 0.5}
    if same is not None:
        out["eval_same"] = {"si_sdr_imp": same}
    if dev_unseen is not None:
        out["eval_dev_unseen"] = {"si_sdr_imp": dev_unseen}
    return out


def test_scores_average_seeds_and_give_their_spread():
    row = report.scores([summary(6.0, 1.0, 0.0, 2.0), summary(6.4, 2.0, 0.2, 2.5), summary(5.9, 1.6, 0.1, 1.5)])
    assert row["si_sdr_imp"] == pytest.approx(6.1) and row["si_sdr_imp_unseen"] == pytest.approx(4.6 / 3)
    assert row["si_sdr_imp_std"] == pytest.approx(statistics.stdev([6.0, 6.4, 5.9]))
    assert row["si_sdr_imp_unseen_std"] == pytest.approx(statistics.stdev([1.0, 2.0, 1.6]))
    assert row["sdr_imp_unseen"] == pytest.approx(4.6 / 3 + 0.5) and row["si_sdr_imp_same"] == pytest.approx(0.1)
    assert row["si_sdr_imp_dev_unseen"] == pytest.approx(2.0)


def test_scores_of_one_seed_without_held_out_sets():
    row = report.scores([summary(6.0)])
    assert row["si_sdr_imp"] == 6.0 and row["si_sdr_imp_std"] is None
    assert row["si_sdr_imp_unseen"] is None and row["sdr_imp_unseen"] is None and row["si_sdr_imp_same"] is None
    assert row["si_sdr_imp_dev_unseen"] is None


@pytest.mark.parametrize("mask,options,kind", [
    ("cirm", {"bound": "tanh", "max": 2.0}, "ComplexRatioMask(max=2.0)"),
    ("ibm", {"hard": "argmax", "against": "rest"}, "IdealBinaryMask(against='rest')"),
    ("iam", {}, "IdealAmplitudeMask(max=1.0)"),
])
def test_oracle_config_holds_the_kind_the_head_trains(mask, options, kind):
    conf = recipe_config.load(RECIPE / "conf.yml")
    conf["model"].update(mask=mask, mask_options=options)
    abl = report.oracle_config(conf)
    assert repr(abl.masks[0]) == kind == repr(heads.get(mask, 8, 4, 2, **options).kind)
    assert (abl.n_fft, abl.hop, abl.factor) == (254, 64, 1)


def test_seed_heads_train_every_seed_and_the_other_heads_their_first(tmp_path, monkeypatch):
    """report.seed_heads: those heads get one run per seed and a spread; the others one run (seed 0); peers one."""
    test_dir = tmp_path / "test"
    (test_dir / "s1").mkdir(parents=True)
    (test_dir / "s2").mkdir()
    for sub, clip in zip(("s1", "s2"), DEFAULT_SOURCES):
        shutil.copy(clip, test_dir / sub / "m0.wav")
    (test_dir / "mixture_test_mix_clean.csv").write_text(
        "mixture_ID,mixture_path,source_1_path,source_2_path,length\n"
        f"m0,{test_dir / 's1' / 'm0.wav'},{test_dir / 's1' / 'm0.wav'},{test_dir / 's2' / 'm0.wav'},16000\n")
    requested = {}

    def run_all(runs, jobs):
        requested.update(runs)
        return {key: summary(6.0 + (key[1] or 0) / 10, 1.0 + (key[1] or 0), 0.5, 2.0) for key in runs}

    monkeypatch.setattr(report.runner, "run_all", run_all)
    monkeypatch.setattr(report, "oracle_scores", lambda abl, mixtures, rate: {"si_sdr": 12.0, "sdr": 13.0})
    dirs = [f"--{key}" for key in ("test_dir", "test_unseen_dir", "dev_unseen_dir", "test_same_dir")]
    conf, _ = recipe_config.parse_args(["--conf", str(RECIPE / "conf.yml"),
                                 *[arg for flag in dirs for arg in (flag, str(test_dir))],
                                 "--seeds", "[0, 1, 2]", "--seed_heads", "[cirm, psm]"])
    report.report(conf, tmp_path / "exp")
    heads = {k for k in requested if k[1] is not None}
    assert heads == {(h, s) for h in ("cirm", "psm") for s in (0, 1, 2)} | {(h, 0) for h in ("ibm", "irm", "cirm_f2")}
    assert {k for k in requested if k[1] is None} == {("convtasnet", None), ("asteroid_mask", None)}
    assert requested[("cirm", 2)].folder == tmp_path / "exp" / "heads" / "cirm-seed2"
    rows = {r["head"]: r for r in json.loads((tmp_path / "exp" / "report" / "report.json").read_text())["rows"]}
    assert rows["cirm"]["seeds"] == 3 and rows["cirm"]["si_sdr_imp"] == pytest.approx(6.1)
    assert rows["cirm"]["si_sdr_imp_unseen_std"] == pytest.approx(1.0)
    assert rows["ibm"]["seeds"] == 1 and rows["ibm"]["si_sdr_imp_std"] is None and rows["ibm"]["si_sdr_imp"] == 6.0
    proc = run(RECIPE, sys.executable, COMMON / "report.py", "--exp_dir", tmp_path / "exp", "--seed_heads", "[nope]",
               expect=2)
    assert proc.stderr == ("report.py: error: report.seed_heads: nope not among report.heads "
                           "(ibm, irm, psm, cirm, cirm_f2)\n")


def test_a_failed_run_names_the_run_its_job_exit_code_and_log(tmp_path):
    """The report's runs call training in processes of their own: a user error there is one line in the job's log,
    and the report's error names the run, the job, its exit code and that log."""
    conf = recipe_config.load(RECIPE / "conf.yml")
    conf["data"]["train_dir"] = str(tmp_path / "nowhere")
    runs = {name: runner.Run(f"head {name}", conf, tmp_path / name) for name in ("a", "b")}
    with pytest.raises(RunError) as error:
        runner.run_all(runs, jobs=2)
    log = tmp_path / "a" / "train.log"
    assert str(error.value) == f"head a: train.py failed with exit code 2, see {log}"
    assert log.read_text().startswith(f"train.py: error: {tmp_path / 'nowhere'}")
    assert not (tmp_path / "a" / "eval.log").exists() and not (tmp_path / "a" / "best_model.pth").exists()
