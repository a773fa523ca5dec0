"""The options declared with their fields: torch-free, complete, and the same as the objects they configure."""

import inspect
import subprocess
import sys
import typing
from dataclasses import dataclass, fields

import pytest

from bssmask import masks, models
from bssmask.ablation_options import AblationConfig
from bssmask.data.corpus_options import CorpusConfig
from bssmask.model_options import MASK_KINDS, MASKER_NAMES, ModelOptions
from bssmask.options import meanings, option
from bssmask.separate_options import SeparateOptions


def test_the_config_schema_and_the_parser_import_no_torch():
    code = ("import sys\nimport bssmask.recipe_config, bssmask.cli\nbssmask.cli.build_parser()\n"
            "print([m for m in ('torch', 'asteroid', 'numpy') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


@pytest.mark.parametrize("options", [AblationConfig, SeparateOptions, CorpusConfig, ModelOptions])
def test_every_field_has_a_one_line_meaning(options):
    found = meanings(options)
    assert list(found) == [each.name for each in fields(options)]
    assert all(meaning.strip() == meaning and "\n" not in meaning and not meaning.endswith(".")
               for meaning in found.values())


def test_a_field_without_a_meaning_is_named():
    @dataclass
    class Half:
        factor: int = option(2, "frequency downsampling factor")
        hop: int = 256

    with pytest.raises(ValueError, match="^Half: no meaning given for hop$"):
        meanings(Half)


def test_model_options_are_the_separators_configurable_arguments():
    arguments = [name for name in inspect.signature(models.MaskSeparator).parameters
                 if name not in ("n_src", "sample_rate", "masker_out")]
    assert [each.name for each in fields(ModelOptions)] == arguments
    separator, declared = typing.get_type_hints(models.MaskSeparator.__init__), typing.get_type_hints(ModelOptions)
    assert {name: declared[name] for name in arguments} == {name: separator[name] for name in arguments}


def test_the_names_in_the_model_help_are_the_registered_ones():
    assert masks.KINDS[:len(MASK_KINDS)] == MASK_KINDS
    assert MASKER_NAMES == tuple(models.MASKERS)
