"""Pseudo-speakers: a recorded voice resynthesised with its pitch and its vocal-tract length changed.

Each pseudo-speaker of a source voice has two factors, drawn once for the
speaker (:func:`draw`), never per utterance, and applied to every one of its
utterances (:func:`transform`) with Praat's "Change gender" command
(``praat-parselmouth``, the ``voices`` extra: ``pip install 'bssmask[voices]'``):

- ``f0_factor`` scales the pitch: each utterance's new median f0 is its own
  median times the factor, the contour around it kept (pitch range factor 1);
- ``formant_factor`` scales the formant frequencies (Praat's formant shift
  ratio), the inverse of the vocal-tract length ratio: 1.2 is a tract 1/1.2
  times as long. The duration is kept.

The factors are log-uniform in :data:`F0_RANGE` and :data:`FORMANT_RANGE`,
redrawn while both stay within :data:`MIN_CHANGE` of 1 (a pseudo-speaker is
never a copy of its source). Each source voice draws from its own stream,
seeded by the seed and its name, so a voice's pseudo-speakers do not depend
on the other voices.

Example:
    >>> [(v.name, v.source) for v in draw(["alpha"], 2, seed=0)]
    [('alpha-p0', 'alpha'), ('alpha-p1', 'alpha')]
    >>> v = draw(["alpha"], 1, seed=0)[0]
    >>> bool(F0_RANGE[0] <= v.f0_factor <= F0_RANGE[1] and FORMANT_RANGE[0] <= v.formant_factor <= FORMANT_RANGE[1])
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpus_options import CorpusError

#: f0 factors. The Asterisk2Mix recipe's recorded training voices have median f0s of 178 to 218 Hz (:func:`median_f0`
#: of their training excerpts, ``recipes/asterisk2mix/local/voice_distance.py``: allison 203, june 199, carlo 178,
#: ivrvoiceru 218), all in the upper half of adult speech (adult medians run from about 100 Hz, low male voices,
#: to about 250 Hz): 0.55 takes a 200 Hz voice to 110 Hz, 1.3 to 260 Hz.
F0_RANGE = (0.55, 1.3)
#: Formant shift ratios: the adult female to male vocal-tract length ratio is about 0.85 (Fitch and Giedd,
#: 1999: 14.1 and 16.9 cm), so the formants of one speaker are 0.85 to 1.2 times those of another.
FORMANT_RANGE = (0.85, 1.2)
#: A pseudo-speaker changes its f0 by at least the first factor or its formants by at least the second.
MIN_CHANGE = (1.2, 1.1)
#: Pitch range of Praat's analysis (Hz).
PITCH_FLOOR, PITCH_CEILING = 75.0, 600.0


@dataclass(frozen=True)
class PseudoVoice:
    """One pseudo-speaker.

    Attributes:
        name: ``<source>-p<k>``.
        source: the recorded voice it is made from.
        f0_factor: factor of the median f0 of each utterance.
        formant_factor: factor of the formant frequencies (the inverse vocal-tract length ratio).
    """

    name: str
    source: str
    f0_factor: float
    formant_factor: float


def _log_uniform(rng, bounds) -> float:
    return float(np.exp(rng.uniform(*np.log(bounds))))


def draw(sources, n: int, seed: int) -> list[PseudoVoice]:
    """``n`` pseudo-speakers of each voice of ``sources``, in that order (see the module docstring)."""
    voices = []
    for source in sources:
        rng = np.random.default_rng([seed, *source.encode()])
        for k in range(n):
            while True:
                f0, formant = _log_uniform(rng, F0_RANGE), _log_uniform(rng, FORMANT_RANGE)
                if max(f0, 1 / f0) >= MIN_CHANGE[0] or max(formant, 1 / formant) >= MIN_CHANGE[1]:
                    break
            voices.append(PseudoVoice(f"{source}-p{k}", source, round(f0, 4), round(formant, 4)))
    return voices


def _parselmouth():
    try:
        import parselmouth
    except ImportError:
        raise CorpusError("transformed_voices needs praat-parselmouth: pip install 'bssmask[voices]'") from None
    return parselmouth


def median_f0(wav: np.ndarray, sample_rate: int) -> float:
    """Median f0 (Hz) of the voiced frames of ``wav`` ``[T]`` (Praat's pitch); 0 when none is voiced."""
    pitch = _parselmouth().Sound(wav, sample_rate).to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0])) if np.any(f0 > 0) else 0.0


def change_voice(wav: np.ndarray, sample_rate: int, f0_factor: float, formant_factor: float) -> np.ndarray:
    """``wav`` ``[T]`` with its median f0 times ``f0_factor`` and its formants times ``formant_factor``.

    Returns float64 ``[T']`` (``T'`` within a few samples of ``T``); an
    utterance without voiced frames keeps its pitch.

    Example:
        >>> t = np.arange(8000) / 8000
        >>> vowel = np.sign(np.sin(2 * np.pi * 150 * t)) * 0.1
        >>> round(median_f0(change_voice(vowel, 8000, 1.2, 1.0), 8000) / median_f0(vowel, 8000), 2)
        1.2
    """
    parselmouth = _parselmouth()
    sound = parselmouth.Sound(wav, sample_rate)
    new_median = median_f0(wav, sample_rate) * f0_factor
    out = parselmouth.praat.call(sound, "Change gender", PITCH_FLOOR, PITCH_CEILING, formant_factor, new_median, 1.0,
                                 1.0)
    return np.nan_to_num(out.values[0].astype(np.float64))


def transform(pools: dict[str, list], voices: list[PseudoVoice], sample_rate: int,
              held_out=()) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The utterances of each pseudo-speaker: its source's utterances of ``pools``, changed.

    Args:
        pools: ``{voice: [(utterance_id, float64 [T]), ...]}``, utterance ids starting with the voice's name.
        voices: the pseudo-speakers (:func:`draw`).
        sample_rate: rate of the utterances (Hz).
        held_out: voices that no pseudo-speaker may be made from.

    Returns:
        ``{pseudo-speaker: [(utterance_id, float64 [T']), ...]}``, ids ``<pseudo-speaker>-<rest of the source id>``.

    Raises:
        CorpusError: a pseudo-speaker of a held-out voice.
    """
    refused = sorted({v.source for v in voices} & set(held_out))
    if refused:
        raise CorpusError(f"transformed_voices: {', '.join(refused)} held out; no pseudo-speaker is made of a "
                          "held-out voice")
    return {v.name: [(v.name + uid[len(v.source):], change_voice(wav, sample_rate, v.f0_factor, v.formant_factor))
                     for uid, wav in pools[v.source]] for v in voices}
