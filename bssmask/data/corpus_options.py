"""The options of the corpus builder (:mod:`bssmask.data.corpus`) and its error.

Example:
    >>> config = CorpusConfig(n_train=64, voices=("alpha", "beta", "gamma"), test_unseen_voices=("delta", "epsilon"))
    >>> config.splits()
    ('train', 'dev', 'test', 'test_unseen', 'test_same')
    >>> CorpusConfig(split=(0.5, 0.5, 0.5)).validate()
    Traceback (most recent call last):
    ...
    bssmask.data.corpus_options.CorpusError: split must be three positive fractions summing to 1, got [0.5, 0.5, 0.5]
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from ..options import option

#: Splits of the seen voices (utterance-disjoint).
SPLITS = ("train", "dev", "test")
#: Every split a corpus may hold, in the order of their random streams.
ALL_SPLITS = (*SPLITS, "test_unseen", "dev_unseen", "test_same")


class CorpusError(UserError):
    """A bad speech source or option; the message names the folder, file or option."""


@dataclass(frozen=True)
class CorpusConfig:
    """Options of :func:`bssmask.data.corpus.build`.

    The defaults are the library's, for a corpus built without options. A
    recipe's ``corpus`` section sets its own values of every option but
    ``sample_rate``, the ``data`` section's (:func:`bssmask.recipe_config.corpus_config`);
    the Asterisk2Mix recipe's ``conf.yml``, for one, asks for more training
    mixtures than ``n_train``'s default.

    Each field's meaning is the help of its config key (:data:`bssmask.recipe_config.SCHEMA`).
    """

    sample_rate: int = option(8000, "rate of the written files (Hz)")
    n_train: int = option(2000, "number of training mixtures")
    n_dev: int = option(200, "number of validation mixtures")
    n_test: int = option(100, "number of test mixtures")
    mix_length: float = option(3.0, "length of training and validation mixtures (s)")
    max_gap: float = option(1.0, "longest pause before each utterance in training and validation mixtures (s)")
    max_level_db: float = option(5.0, "relative level of the two speakers, drawn in [-x, x] dB")
    min_duration: float = option(1.0, "shortest utterance used (s)")
    max_duration: float = option(10.0, "longest utterance used (s)")
    split: tuple[float, float, float] = option((0.8, 0.1, 0.1),
                                               "fractions of each seen voice's utterances in train, dev and test")
    seed: int = option(0, "seed of every random choice of the corpus")
    voices: tuple[str, ...] = option((), "the seen voices (train, dev, test); empty: every speaker neither held out "
                                         "nor heard in training only")
    train_voices: tuple[str, ...] = option(
        (), "voices heard in training only: all their usable utterances go to the train split, none to dev or test, "
            "so the dev and test mixtures are those of a corpus without them")
    train_same_voice: float = option(
        0.0, "fraction of training mixtures of one voice talking over itself: two excerpts of one voice, from "
             "disjoint halves of its training utterances (drawn per mixture); the others mix two voices. Only the "
             "train split changes")
    transformed_voices: int = option(
        0, "pseudo-speakers made of each recorded training voice (seen and training-only), its pitch and "
           "vocal-tract length changed (bssmask.data.pseudo_voices), from its training utterances; heard in "
           "training only. Only the train split changes")
    transform_seed: int = option(0, "seed of the pseudo-speakers' factors")
    synthetic_voices: tuple[str, ...] = option(
        (), "synthetic (text-to-speech) voices heard in training only, as train_voices (listed apart in "
            "speakers.json). Only the train split changes")
    test_unseen_voices: tuple[str, ...] = option(
        (), "voices held out of training for the test_unseen set (none, or at least two)")
    dev_unseen_voices: tuple[str, ...] = option(
        (), "voices held out of training and testing for the dev_unseen set (none: no such set)")
    n_test_unseen: int = option(100, "number of test_unseen mixtures (two held-out voices)")
    n_dev_unseen: int = option(100, "number of dev_unseen mixtures")
    n_test_same: int = option(100, "number of test_same mixtures (two test utterances of one seen voice)")

    def held_out(self) -> dict[str, tuple[str, ...]]:
        """Held-out voices by split (only the splits that have some)."""
        held = {"test_unseen": self.test_unseen_voices, "dev_unseen": self.dev_unseen_voices}
        return {split: voices for split, voices in held.items() if voices}

    def splits(self) -> tuple[str, ...]:
        """The splits of :data:`ALL_SPLITS` that a corpus of these options holds."""
        return tuple(split for split in ALL_SPLITS if split in (*SPLITS, *self.held_out(), "test_same"))

    def all_voices(self) -> tuple[str, ...]:
        """The seen voices, the training-only ones (recorded, then synthetic), then the held-out ones."""
        return (*self.voices, *self.train_voices, *self.synthetic_voices, *self.test_unseen_voices,
                *self.dev_unseen_voices)

    def validate(self) -> None:
        """Raise :class:`CorpusError` naming the first bad option."""
        for name in ("sample_rate", "n_train", "n_dev", "n_test", "n_test_unseen", "n_dev_unseen", "n_test_same"):
            if getattr(self, name) < 1:
                raise CorpusError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.sample_rate % 1000:
            raise CorpusError(f"sample_rate must be a multiple of 1000 Hz, got {self.sample_rate}")
        if not 0 < self.min_duration < self.max_duration:
            raise CorpusError(f"need 0 < min_duration < max_duration, got {self.min_duration}, {self.max_duration}")
        if self.mix_length <= 0 or self.max_level_db < 0 or self.max_gap < 0:
            raise CorpusError(f"need mix_length > 0, max_gap >= 0 and max_level_db >= 0, got "
                              f"{self.mix_length}, {self.max_gap}, {self.max_level_db}")
        if self.transformed_voices < 0:
            raise CorpusError(f"transformed_voices must be >= 0, got {self.transformed_voices}")
        if not 0 <= self.train_same_voice <= 1:
            raise CorpusError(f"train_same_voice must be a fraction in [0, 1], got {self.train_same_voice}")
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in self.split)
        if len(self.split) != 3 or not numbers or min(self.split) <= 0 or abs(sum(self.split) - 1) > 1e-6:
            raise CorpusError(f"split must be three positive fractions summing to 1, got {list(self.split)}")
        names = self.all_voices()
        twice = sorted({v for v in names if names.count(v) > 1})
        if twice:
            raise CorpusError(f"voices, train_voices, synthetic_voices, test_unseen_voices, dev_unseen_voices: "
                              f"{', '.join(twice)} given more than once (a held-out or training-only voice is in "
                              "no other split)")
        if len(self.test_unseen_voices) == 1:
            raise CorpusError(f"test_unseen_voices: need none or at least two voices (mixtures of two held-out "
                              f"voices), got {list(self.test_unseen_voices)}")
