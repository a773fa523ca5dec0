"""The usage examples in the foundation modules' docstrings run as written."""

import doctest
import importlib

import pytest

MODULES = [
    "bssmask.masks", "bssmask.resample", "bssmask.stft", "bssmask.metrics", "bssmask.ablation", "bssmask.atomic",
    "bssmask.heads", "bssmask.models", "bssmask.io", "bssmask.losses", "bssmask.checkpoint", "bssmask.tables",
    "bssmask.device", "bssmask.peers", "bssmask.mask_stats", "bssmask.stats", "bssmask.data.librimix",
    "bssmask.data.epochs", "bssmask.data.corpus_config", "bssmask.engine.scoring", "bssmask.engine.system",
    "bssmask.engine.callbacks", "bssmask.recipe.build", "bssmask.recipe.evaluate", "bssmask.recipe.finetune",
    "bssmask.recipe.runner", "bssmask.errors", "bssmask.tf", "bssmask.names", "bssmask.ablation_config",
    "bssmask.data.augment", "bssmask.options", "bssmask.compat", "bssmask.stream", "bssmask.separate_options",
    "bssmask.audio", "bssmask.listening", "bssmask.data.pseudo_voices", "bssmask.data.speech",
    "bssmask.model_options", "bssmask.config", "bssmask.separator", "bssmask.ablation_page",
    "bssmask.data.asterisk_voices", "bssmask.data.tts_voices", "bssmask.recipe.report",
    "bssmask.recipe.checkpoints",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
