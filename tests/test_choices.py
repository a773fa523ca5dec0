"""The one option check: choose and choose_each, by value and by message."""

import pytest

from bssmask.choices import METRICS, WINDOWS, choose, choose_each


def test_choose_returns_an_allowed_value_and_names_a_bad_one():
    assert choose("window", "sqrt-hann", WINDOWS) == "sqrt-hann"
    assert choose("task", "b", {"a": 1, "b": 2}) == "b"  # a dict's keys are the choices
    with pytest.raises(ValueError, match="^unknown window 'hamming'; choose from hann, sqrt-hann$"):
        choose("window", "hamming", WINDOWS)


def test_choose_each_checks_every_value_and_refuses_none():
    assert choose_each("metric", ["l1", "sdr"], METRICS) == ("l1", "sdr")
    with pytest.raises(ValueError, match="^unknown metric 'pesq'; choose from sdr, si_sdr, sir, sar, l1$"):
        choose_each("metric", ["sdr", "pesq"], METRICS)
    with pytest.raises(ValueError, match="^no metric given; choose from sdr, si_sdr, sir, sar, l1$"):
        choose_each("metric", (), METRICS)
