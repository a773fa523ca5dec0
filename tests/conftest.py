"""Shared fixtures: real speech from the bundled clips, and one quick run of the Asterisk2Mix recipe."""

import pytest
import torch

from bssmask.audio import load_sources
from bssmask.data import DEFAULT_SOURCES
from bssmask.stft import make_stft
from recipe_helpers import copy_recipe, run

# One thread for the whole session: on this 2-core machine a second thread
# only contends with other processes, and torch 2.9's MKL LU solve (used by
# fast_bss_eval) fails after torch.set_num_threads(n > 1).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def speech_pair():
    """The bundled two-prompt speech pair, ``[2, T]`` float32 at 8 kHz (2 s)."""
    sources, rate, _ = load_sources(DEFAULT_SOURCES)
    assert rate == 8000
    return sources[:, 8000:24000].contiguous()


@pytest.fixture(scope="session")
def speech_spectra(speech_pair):
    """Complex STFTs of the pair: sources ``[2, F, T']`` and their sum ``[F, T']`` (n_fft 510, F=256)."""
    encoder, _ = make_stft(510, 128)
    tf = encoder(torch.cat([speech_pair, speech_pair.sum(0, keepdim=True)])[None])[0]
    spec = torch.complex(tf[:, :256], tf[:, 256:])
    return spec[:2], spec[2]


@pytest.fixture(scope="session")
def quick_recipe(tmp_path_factory):
    """``./run.sh --quick true`` (every stage) in a copy of the recipe: ``(recipe folder, completed process)``.

    Shared by the recipe and fine-tuning tests (its ``irm`` report head is
    their pretrained model); needs the Asterisk prompts.
    """
    from bssmask.data import corpus

    if not (corpus.ASTERISK_ROOT / "en").is_dir():
        pytest.skip("Asterisk prompts not installed")
    recipe = copy_recipe(tmp_path_factory.mktemp("recipes"))
    return recipe, run(recipe, "./run.sh", "--quick", "true", "--progress_bar", "false")
