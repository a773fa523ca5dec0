"""The usage examples in the foundation modules' docstrings run as written."""

import doctest
import importlib

import pytest

MODULES = [
    "bssmask.masks", "bssmask.freq_resample", "bssmask.stft", "bssmask.metrics", "bssmask.ablation", "bssmask.atomic",
    "bssmask.heads", "bssmask.models", "bssmask.model_files", "bssmask.losses", "bssmask.checkpoint", "bssmask.tables",
    "bssmask.device", "bssmask.peers", "bssmask.adjacent_bins", "bssmask.means", "bssmask.data.librimix",
    "bssmask.data.epochs", "bssmask.data.corpus_options", "bssmask.engine.scoring", "bssmask.engine.system",
    "bssmask.engine.callbacks", "bssmask.experiment.build", "bssmask.experiment.evaluate", "bssmask.experiment.head_swap",
    "bssmask.experiment.runner", "bssmask.errors", "bssmask.complex_tf", "bssmask.choices", "bssmask.ablation_options",
    "bssmask.data.augment", "bssmask.options", "bssmask.compat", "bssmask.stream", "bssmask.separate_options",
    "bssmask.audio", "bssmask.listening", "bssmask.data.pseudo_voices", "bssmask.data.speech",
    "bssmask.model_options", "bssmask.recipe_config", "bssmask.separator", "bssmask.ablation_page",
    "bssmask.data.asterisk_voices", "bssmask.data.tts_voices", "bssmask.experiment.report",
    "bssmask.experiment.training",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
