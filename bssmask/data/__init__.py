"""Data: bundled clips and mixture lists."""

from pathlib import Path

CLIPS_DIR = Path(__file__).resolve().parent / "clips"

#: The default two-source example: one speaker, two prompts.
DEFAULT_SOURCES = (CLIPS_DIR / "speech_a.wav", CLIPS_DIR / "speech_b.wav")
