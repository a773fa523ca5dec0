"""The voices the recipe's corpus reads: Debian's Asterisk telephony prompts, and KTuberling's spoken words.

Each Asterisk voice is read from its own folders under :data:`ASTERISK_ROOT`,
never from the language links (``sounds/fr`` ...) that other voice packages
replace. The English and Spanish prompts of
``asterisk-core-sounds-{en,es}-wav`` are one speaker, Allison, and one
voice here. The KTuberling voices (``kt_<language>``, package
``ktuberling-data``, under :data:`KTUBERLING_ROOT`) are the single words of
the game's sound themes, one speaker a language, used as training-only
voices (``corpus.train_voices``). :func:`asterisk_speakers` gives the files
of each voice, by voice, as :func:`bssmask.data.corpus.build` takes them;
:func:`corpus_voices` names the recorded voices a corpus reads.

Example:
    >>> missing_packages(["june", "armelle"], root="/nowhere")
    ['asterisk-core-sounds-fr-wav', 'asterisk-prompt-fr-armelle']
    >>> from bssmask.data.corpus_options import CorpusConfig
    >>> corpus_voices(CorpusConfig(voices=("june", "carlo"), test_unseen_voices=("menardi",)))
    ('june', 'carlo', 'menardi')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bssmask.data.corpus_options import CorpusError

ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
KTUBERLING_ROOT = Path("/usr/share/ktuberling/sounds")


@dataclass(frozen=True)
class AsteriskVoice:
    """Where one Debian package puts a voice's recordings.

    Attributes:
        package: the Debian package.
        folders: its folders of the voice's files, relative to ``root``;
            real folders, never the language links.
        suffix: the files' suffix (``.gsm``: raw GSM 6.10, see :data:`bssmask.audio.RAW_FORMATS`).
        root: the package's sound folder (``None``: the Asterisk sounds folder
            that the functions below are given, :data:`ASTERISK_ROOT` by default).
    """

    package: str
    folders: tuple[str, ...]
    suffix: str = ".wav"
    root: Path | None = None


#: The Asterisk voices Debian packages, by voice name (credits in the recipe's README).
ASTERISK_VOICES: dict[str, tuple[AsteriskVoice, ...]] = {
    "allison": (AsteriskVoice("asterisk-core-sounds-en-wav", ("en_US_f_Allison",)),
                AsteriskVoice("asterisk-core-sounds-es-wav", ("es_MX_f_Allison",))),
    "june": (AsteriskVoice("asterisk-core-sounds-fr-wav", ("fr_CA_f_June",)),),
    "carlo": (AsteriskVoice("asterisk-core-sounds-it-wav", ("it_IT_m_Carlo",)),),
    "ivrvoiceru": (AsteriskVoice("asterisk-core-sounds-ru-wav", ("ru_RU_f_IvrvoiceRU",)),),
    "menardi": (AsteriskVoice("asterisk-prompt-it-menardi-wav", ("it_IT_f_Menardi",)),),
    "armelle": (AsteriskVoice("asterisk-prompt-fr-armelle",
                              ("fr", "digits/fr", "letters/fr", "phonetic/fr", "dictate/fr"), ".gsm"),),
    "july": (AsteriskVoice("asterisk-prompt-es-co", ("es", "digits/es"), ".gsm"),),
}
#: KTuberling's voices with enough words of 1 s or more, by voice name (``kt_<language>``).
KTUBERLING_VOICES: dict[str, tuple[AsteriskVoice, ...]] = {
    f"kt_{language}": (AsteriskVoice("ktuberling-data", (language,), suffix, KTUBERLING_ROOT),)
    for language, suffix in (("ca", ".ogg"), ("da", ".ogg"), ("fr", ".wav"), ("lt", ".ogg"), ("nn", ".opus"),
                             ("ru", ".ogg"), ("uk", ".ogg"))
}
#: Every voice the recipe can read, by name.
VOICES = {**ASTERISK_VOICES, **KTUBERLING_VOICES}


def _voice_parts(name: str) -> tuple[AsteriskVoice, ...]:
    if name not in VOICES:
        raise CorpusError(f"unknown voice {name!r}; known voices: {', '.join(VOICES)}")
    return VOICES[name]


def _installed(folder: Path) -> bool:
    """A voice folder is there when it is a real folder (a language link points to another voice)."""
    return folder.is_dir() and not folder.is_symlink()


def missing_packages(voices, root: str | Path = ASTERISK_ROOT) -> list[str]:
    """Debian packages of the Asterisk ``voices`` that are not installed (their first folder is not there).

    Raises:
        CorpusError: an unknown voice name.
    """
    missing = []
    for name in voices:
        for part in _voice_parts(name):
            if not _installed(Path(part.root or root) / part.folders[0]) and part.package not in missing:
                missing.append(part.package)
    return missing


def asterisk_speakers(voices=tuple(ASTERISK_VOICES), root: str | Path = ASTERISK_ROOT) -> dict[str, list[Path]]:
    """Speech files of the ``voices`` (names of :data:`VOICES`), by voice.

    Each voice is read from its own folders; a folder that is missing or is
    a link (a language link, such as ``sounds/fr``, to another voice) means
    that the voice's package is not installed.

    Raises:
        CorpusError: an unknown voice, or voices not installed, with the packages to install.
    """
    root = Path(root)
    missing = missing_packages(voices, root)
    if missing:
        absent = [name for name in voices if any(part.package in missing for part in VOICES[name])]
        raise CorpusError(
            f"voice(s) {', '.join(absent)} not installed; install them as root with "
            f"`apt-get install {' '.join(missing)}`, or give a folder with one subfolder per speaker (--source_dir)"
        )
    return {name: sorted(path for part in _voice_parts(name) for folder in part.folders
                         for base in [Path(part.root or root) / folder] if _installed(base)
                         for path in base.rglob(f"*{part.suffix}") if path.is_file())
            for name in voices}


def corpus_voices(corpus_conf) -> tuple[str, ...]:
    """The recorded voices a corpus of these options reads: its own, or with ``voices: []`` every Asterisk voice
    too."""
    recorded = tuple(name for name in corpus_conf.all_voices() if name not in corpus_conf.synthetic_voices)
    return recorded if corpus_conf.voices else tuple(dict.fromkeys((*ASTERISK_VOICES, *recorded)))
