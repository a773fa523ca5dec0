"""What a plain ``pip install .`` gets: the wheel holds the package data, and the install ranges hold the stacks."""

import configparser
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_the_bundled_model_and_clips(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bssmask-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("bssmask/pretrained/default.pth", "bssmask/pretrained/default.md",
                 "bssmask/data/clips/speech_a.wav", "bssmask/data/clips/speech_b.wav",
                 "bssmask/data/clips/ATTRIBUTION.md"):
        assert data in names
    assert not any(name.startswith(("tests/", "recipes/")) for name in names)


def _requirements():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in setup["options"]["install_requires"].splitlines()]
    return dict(re.match(r"([A-Za-z0-9_.-]+)(.*)", line).groups() for line in lines if line and line[0] != "#")


def _pins(stack):
    text = (ROOT / "constraints" / f"{stack}.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, flags=re.M))


def _version(text):
    parts = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def test_ranges_are_the_tested_stacks():
    """Each range's lower end is the oldest stack's pin, and the newest stack's pin lies inside it."""
    requirements = _requirements()
    oldest, newest = _pins("oldest"), _pins("newest")
    for package in ("torch", "torchaudio", "pytorch-lightning", "asteroid", "asteroid-filterbanks"):
        spec = requirements[package]
        low = re.search(r">=([\d.]+)", spec).group(1)
        high = re.search(r"<([\d.]+)", spec).group(1)
        assert _version(oldest[package]) == _version(low), package
        assert _version(low) <= _version(newest[package]) < _version(high), package
    assert "==" not in "".join(requirements.values())   # ranges, not pins


def test_dev_constraints_resolve_inside_the_ranges():
    """The reproducible environment (constraints/dev.txt) is one of the stacks the ranges allow."""
    requirements, dev = _requirements(), _pins("dev")
    for package in ("torch", "torchaudio", "pytorch-lightning", "asteroid", "asteroid-filterbanks"):
        low = re.search(r">=([\d.]+)", requirements[package]).group(1)
        high = re.search(r"<([\d.]+)", requirements[package]).group(1)
        assert _version(low) <= _version(dev[package]) < _version(high), package
