"""The report's columns from per-seed evaluation summaries: means, spread, missing test sets; its oracle's kind."""

import statistics
import sys

import pytest

from bssmask import config, heads
from recipe_helpers import RECIPE

sys.path.insert(0, str(RECIPE))
import report  # noqa: E402  (the recipe's stage 3 script)


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
    ("cirm", {"bound": "compressed", "K": 5.0, "max": 2.0}, "ComplexRatioMask(max=2.0)"),
    ("ibm", {"hard": "argmax", "against": "rest"}, "IdealBinaryMask(against='rest')"),
    ("iam", {}, "IdealAmplitudeMask(max=1.0)"),
])
def test_oracle_config_holds_the_kind_the_head_trains(mask, options, kind):
    conf = config.load(RECIPE / "conf.yml")
    conf["model"].update(mask=mask, mask_options=options)
    abl = report.oracle_config(conf)
    assert repr(abl.masks[0]) == kind == repr(heads.get(mask, 8, 4, 2, **options).kind)
    assert (abl.n_fft, abl.hop, abl.factor) == (254, 64, 1)
