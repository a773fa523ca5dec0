"""Shared fixtures (real speech from the bundled clips, one quick run of the Asterisk2Mix recipe) and the voice check.

Tests marked ``voices`` need the Debian voice packages of the voices that the recipe's ``conf.yml`` names
(:data:`bssmask.data.asterisk_voices.VOICES`, which its corpus reads). Without them these tests do
not run, the summary names what was not tested, and the run FAILS, unless
``BSSMASK_SKIP_VOICE_TESTS=1`` says that skipping them is intended.

Tests marked ``browser`` (headless Chromium) are left out of every run but
one that selects them, ``pytest -m browser`` (``make test-browser``).

``make test`` runs the suite in two processes (pytest-xdist, ``-n 2 --dist loadgroup``): the tests that
share the quick recipe run (:func:`quick_recipe`) go to one process, so that the recipe runs once, and every
process, with the recipe runs they start, computes with one thread.
"""

import os
from collections import Counter

import pytest
import torch

from bssmask.audio import load_sources
from bssmask.data import DEFAULT_SOURCES
from bssmask.stft import make_stft
from bssmask import recipe_config
from bssmask.data import asterisk_voices
from bssmask.data.asterisk_voices import corpus_voices
from recipe_helpers import RECIPE, copy_recipe, run

# One thread for the whole session and the processes it starts: results that
# compare two training runs (resume, DDP) are exact only with one thread, and
# on a 2-core machine a second thread only contends with the other test
# process. (BSS-Eval is right with any thread count: tests/test_metrics.py
# runs it with 1, 2 and 4.)
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

#: Environment switch: skip the tests that need the Asterisk voices instead of failing.
SKIP_VOICES = "BSSMASK_SKIP_VOICE_TESTS"
#: Packages of the voices that stage 0 reads for the recipe's conf.yml, not installed here.
MISSING_PACKAGES = asterisk_voices.missing_packages(
    corpus_voices(recipe_config.corpus_config(recipe_config.load(RECIPE / "conf.yml"))))
#: Why the tests marked ``voices`` are skipped when the voices are missing.
VOICES_SKIPPED = f"needs the Asterisk voices ({', '.join(MISSING_PACKAGES)} not installed)"
#: Voice tests skipped, by file: counted from the test reports, so also in the main process of an xdist run.
_not_tested: Counter = Counter()


def pytest_configure(config):
    config.addinivalue_line("markers", "voices: needs the Debian Asterisk voice packages (the recipe's corpus)")
    config.addinivalue_line("markers", "browser: opens pages in headless Chromium; runs only when asked for with "
                                       "-m browser (make test-browser), skipped there without chromium")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    if "browser" not in (config.option.markexpr or ""):
        browser = [item for item in items if item.get_closest_marker("browser")]
        if browser:
            config.hook.pytest_deselected(items=browser)
            items[:] = [item for item in items if not item.get_closest_marker("browser")]
    for item in items:
        if "quick_recipe" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("quick_recipe"))
        if MISSING_PACKAGES and item.get_closest_marker("voices"):
            item.add_marker(pytest.mark.skip(reason=VOICES_SKIPPED))


def pytest_runtest_logreport(report):
    if MISSING_PACKAGES and report.skipped and report.when == "setup" and VOICES_SKIPPED in str(report.longrepr):
        _not_tested[report.nodeid.split("::")[0]] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _not_tested:
        return
    files = ", ".join(f"{path} ({n})" for path, n in sorted(_not_tested.items()))
    packages = " ".join(MISSING_PACKAGES)
    terminalreporter.section("NOT TESTED", sep="!", red=True, bold=True)
    terminalreporter.line(
        f"{sum(_not_tested.values())} tests need the Debian Asterisk voices and did not run "
        f"(the recipe, training, evaluation, resume, fine-tuning and fault tests): {files}", red=True)
    terminalreporter.line(f"Missing: {packages}. Install them with recipes/asterisk2mix/local/install_asterisk_sounds.sh"
                          f" (as root), or set {SKIP_VOICES}=1 to skip these tests on purpose.", red=True)
    if os.environ.get(SKIP_VOICES) != "1":
        terminalreporter.line(f"The run FAILS because of them ({SKIP_VOICES} is not set).", red=True, bold=True)


def pytest_sessionfinish(session, exitstatus):
    if _not_tested and os.environ.get(SKIP_VOICES) != "1" and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
    their pretrained model); only tests marked ``voices`` may use it.
    """
    recipe = copy_recipe(tmp_path_factory.mktemp("recipes"))
    return recipe, run(recipe, "./run.sh", "--quick", "true", "--progress_bar", "false")
