"""Synthetic voices of the corpus (``corpus.synthetic_voices``): offline text-to-speech voices of Debian packages.

Each voice of :data:`TTS_VOICES` is a speaker, ``tts-<name>``, speaking
:data:`UTTERANCES` sentences of offline texts: English from the licence
texts of every Debian system (``/usr/share/common-licenses``), Russian from
the prompts of ``festvox-ru``'s own voice. The Italian voices read the
English sentences with their Italian letter-to-sound rules (no Italian
text ships with them). Engines: Festival (one process per voice),
Flite and eSpeak NG (one process per utterance).

:func:`synthesize` writes each voice's files once, under
``<cache_dir>/<voice>/`` (``0000.wav`` ..., at the engine's rate, with
``texts.txt``), and reuses them afterwards; the corpus reads them as the
files of a recorded voice.

Example:
    >>> missing_packages(["tts-kal", "tts-awb"], installed=lambda package: package == "flite")
    ['festvox-kallpc16k']
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bssmask.atomic import atomic_folder
from bssmask.data.corpus_options import CorpusError

#: Sentences each voice speaks.
UTTERANCES = 200
#: Licence texts of every Debian system (package base-files): the English sentences.
ENGLISH_TEXTS = Path("/usr/share/common-licenses")
#: The prompts of festvox-ru's voice: the Russian sentences.
RUSSIAN_TEXTS = Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits/etc/txt.done.data")


@dataclass(frozen=True)
class TtsVoice:
    """One text-to-speech voice.

    Attributes:
        package: the Debian package that installs it.
        engine: ``festival``, ``flite`` or ``espeak-ng``.
        voice: the engine's name of the voice (Festival's voice function, Flite's ``-voice``, eSpeak's ``-v``).
        language: the language of its sentences, ``en`` or ``ru``.
        licence: its licence (the package's ``copyright`` file says more).
    """

    package: str
    engine: str
    voice: str
    language: str
    licence: str


_CMU = "free (CMU/CSTR, MIT-style)"
#: The synthetic voices, by speaker name: one per person (Flite's slt and kal are Festival's slt and kal).
TTS_VOICES: dict[str, TtsVoice] = {
    "tts-kal": TtsVoice("festvox-kallpc16k", "festival", "voice_kal_diphone", "en", _CMU),
    "tts-ked": TtsVoice("festvox-kdlpc16k", "festival", "voice_ked_diphone", "en", _CMU),
    "tts-slt": TtsVoice("festvox-us-slt-hts", "festival", "voice_cmu_us_slt_arctic_hts", "en",
                        "EST-2003 and BSD-3-clause (CMU ARCTIC)"),
    "tts-lp": TtsVoice("festvox-italp16k", "festival", "voice_lp_diphone", "en", "GPL-2+"),
    "tts-pc": TtsVoice("festvox-itapc16k", "festival", "voice_pc_diphone", "en", "GPL-2+"),
    "tts-nsh": TtsVoice("festvox-ru", "festival", "voice_msu_ru_nsh_clunits", "ru", "BSD-like (festvox-ru)"),
    "tts-awb": TtsVoice("flite", "flite", "awb", "en", _CMU),
    "tts-rms": TtsVoice("flite", "flite", "rms", "en", _CMU),
    **{f"tts-espeak-{variant}": TtsVoice("espeak-ng", "espeak-ng", f"en+{variant}", "en", "GPL-3+")
       for variant in ("m1", "m3", "f2", "f4")},
}


def _dpkg_installed(package: str) -> bool:
    try:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    except OSError:
        return False
    return status.stdout.endswith("installed")


def _voice(name: str) -> TtsVoice:
    if name not in TTS_VOICES:
        raise CorpusError(f"unknown synthetic voice {name!r}; known: {', '.join(TTS_VOICES)}")
    return TTS_VOICES[name]


def missing_packages(names, installed=_dpkg_installed) -> list[str]:
    """Debian packages of the synthetic voices ``names`` that ``installed(package)`` says are not installed.

    Raises:
        CorpusError: an unknown voice.
    """
    return list(dict.fromkeys(v.package for v in map(_voice, names) if not installed(v.package)))


def to_make(names, cache_dir: str | Path) -> list[str]:
    """The voices of ``names`` not yet made under ``cache_dir`` (:func:`synthesize` makes them)."""
    return [name for name in names if not (Path(cache_dir) / name / "texts.txt").is_file()]


def sentences(language: str) -> list[str]:
    """The offline sentences of ``language`` (``en``: 6 to 30 words of letters and punctuation each;
    ``ru``: every prompt)."""
    if language == "ru":
        return re.findall(r'^\( \S+ "(.*)" \)$', RUSSIAN_TEXTS.read_text(), flags=re.MULTILINE)
    found = set()
    for path in sorted(p for p in ENGLISH_TEXTS.iterdir() if p.is_file() and not p.is_symlink()):
        text = re.sub(r"<[^>]*>|https?://\S+", "", " ".join(path.read_text(errors="replace").split()))
        found.update(s for s in re.split(r"(?<=[.;!?])\s+", text)
                     if 6 <= len(s.split()) <= 30 and re.fullmatch(r"[A-Za-z ,.;:!?'-]+", s))
    return sorted(found)


def _festival(voice: TtsVoice, texts: list[str], folder: Path) -> None:
    script = [f"({voice.voice})"] + [
        f'(unwind-protect (utt.save.wave (utt.synth (Utterance Text "{text}")) "{folder / f"{k:04d}.wav"}" \'riff))'
        for k, text in enumerate(t.replace("\\", " ").replace('"', "'") for t in texts)]
    (folder / "synth.scm").write_text("\n".join(script) + "\n")
    subprocess.run(["festival", "-b", str(folder / "synth.scm")], check=True, capture_output=True)
    (folder / "synth.scm").unlink()


def _one_process_per_utterance(voice: TtsVoice, texts: list[str], folder: Path) -> None:
    for k, text in enumerate(texts):
        out = str(folder / f"{k:04d}.wav")
        command = (["flite", "-voice", voice.voice, "-t", text, "-o", out] if voice.engine == "flite"
                   else ["espeak-ng", "-v", voice.voice, "-w", out, text])
        subprocess.run(command, check=True, capture_output=True)


def synthesize(names, cache_dir: str | Path) -> dict[str, list[Path]]:
    """The wav files of each synthetic voice of ``names``, made once under ``cache_dir/<voice>/``.

    Each voice speaks :data:`UTTERANCES` sentences of its language (all when
    fewer), drawn with a stream seeded by its name; a sentence that Festival
    cannot say (a token its letter-to-sound rules refuse) is left out.

    A voice already made needs no package: a copied cache is used as it is.

    Raises:
        CorpusError: an unknown voice, or voices to make that are not installed, with the packages to install.
    """
    missing = missing_packages(to_make(names, cache_dir))
    if missing:
        raise CorpusError(f"synthetic voice(s) not installed; install them as root with "
                          f"`apt-get install {' '.join(missing)}`")
    files = {}
    for name in names:
        voice, folder = TTS_VOICES[name], Path(cache_dir) / name
        if not (folder / "texts.txt").is_file():
            texts = sentences(voice.language)
            rng = np.random.default_rng(list(name.encode()))
            texts = [texts[i] for i in sorted(rng.permutation(len(texts))[:UTTERANCES])]
            with atomic_folder(folder) as tmp:
                (_festival if voice.engine == "festival" else _one_process_per_utterance)(voice, texts, tmp)
                (tmp / "texts.txt").write_text("\n".join(texts) + "\n")
        files[name] = sorted(folder.glob("*.wav"))
    return files


def licences(names) -> dict[str, str]:
    """The licence of each synthetic voice of ``names``, with the file that states it."""
    return {name: f"{_voice(name).licence}; /usr/share/doc/{_voice(name).package}/copyright" for name in names}
