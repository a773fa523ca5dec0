"""Without the Asterisk voices the suite says what it did not test, and fails unless told to skip."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VOICE_TEST = "tests/test_corpus.py::test_asterisk_voices_merge_english_and_spanish"
PLAIN_TEST = "tests/test_stft.py::test_argument_checks"

# A pytest plugin (loaded before the conftest) that points the voice check at an empty folder.
NO_VOICES = """
import functools
from bssmask.data import asterisk_voices
asterisk_voices.missing_packages = functools.partial(asterisk_voices.missing_packages, root={root!r})
"""


def _pytest(tmp_path, env, options=()):
    (tmp_path / "no_voices.py").write_text(NO_VOICES.format(root=str(tmp_path / "sounds")))
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no_voices", "-p", "no:cacheprovider",
                           *options, VOICE_TEST, PLAIN_TEST], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHONPATH": path})


# The failing run in two processes, as make test runs the suite: the main process sees the skips too.
@pytest.mark.parametrize("switch, options", [(None, ("-n", "2")), ("1", ())])
def test_missing_voices_are_reported_and_fail_the_run_unless_skipped_on_purpose(tmp_path, switch, options):
    env = {k: v for k, v in os.environ.items() if k != "BSSMASK_SKIP_VOICE_TESTS"}
    if switch:
        env["BSSMASK_SKIP_VOICE_TESTS"] = switch
    proc = _pytest(tmp_path, env, options)
    assert "1 passed, 1 skipped" in proc.stdout, proc.stdout[-3000:]  # the test that needs no voices ran
    assert "NOT TESTED" in proc.stdout
    assert "1 tests need the Debian Asterisk voices and did not run" in proc.stdout
    assert "tests/test_corpus.py (1)" in proc.stdout
    assert "asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav" in proc.stdout
    if switch:
        assert proc.returncode == 0, proc.stdout[-3000:]
    else:
        assert proc.returncode == 1, proc.stdout[-3000:]
        assert "The run FAILS because of them (BSSMASK_SKIP_VOICE_TESTS is not set)" in proc.stdout
