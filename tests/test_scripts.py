"""The recipes' shell scripts work from any folder: ``--help``, and paths taken from where they are started."""

import os
import subprocess
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
SCRIPTS = [RECIPES / "asterisk2mix" / "run.sh", RECIPES / "asterisk2mix" / "finetune.sh", RECIPES / "librimix" / "run.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_from_the_repository_root_and_elsewhere(script, tmp_path):
    for cwd, name in ((RECIPES.parent, os.path.relpath(script, RECIPES.parent)), (tmp_path, str(script))):
        proc = subprocess.run(["bash", name, "--help"], cwd=cwd, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert "Usage: ./" + script.name in proc.stdout and "set -" not in proc.stdout


@pytest.fixture()
def echo_python(tmp_path):
    """A stand-in for the recipes' Python that prints its arguments, one per line."""
    stub = tmp_path / "echo_python"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    return {**os.environ, "PYTHON": str(stub)}


def _value(stdout: str, option: str) -> str:
    lines = stdout.splitlines()
    return lines[lines.index(option) + 1]


def test_paths_on_the_command_line_are_taken_from_the_callers_folder(tmp_path, echo_python):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "irm.pth").write_bytes(b"")
    finetune = RECIPES / "asterisk2mix" / "finetune.sh"
    proc = subprocess.run(["bash", str(finetune), "--pretrained", "models/irm.pth"], cwd=tmp_path, env=echo_python,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _value(proc.stdout, "--pretrained") == f"{tmp_path}/models/irm.pth"
    assert _value(proc.stdout, "--exp_dir") == "exp/finetune"  # the recipe's own paths stay relative to it
    # A name that is no file in the caller's folder goes on as given: a bundled model or a hub id.
    for name in ("default", "owner/model"):
        proc = subprocess.run(["bash", str(finetune), "--pretrained", name], cwd=tmp_path, env=echo_python,
                              capture_output=True, text=True)
        assert _value(proc.stdout, "--pretrained") == name
    proc = subprocess.run(["bash", str(RECIPES / "asterisk2mix" / "run.sh"), "--stop_stage", "0", "--source_dir",
                           "voices", "--storage_dir", "corpus"], cwd=tmp_path, env=echo_python,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _value(proc.stdout, "--source_dir") == f"{tmp_path}/voices"
    assert _value(proc.stdout, "--storage_dir") == f"{tmp_path}/corpus"
