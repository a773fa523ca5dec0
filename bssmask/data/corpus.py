"""Two-speaker mixture corpus from recorded speech, in LibriMix's on-disk layout.

Speech comes as audio files by speaker: one folder per speaker
(:func:`bssmask.data.speech.folder_speakers`) or any other table of files
by speaker name (the Asterisk2Mix recipe reads Debian's Asterisk prompts,
:mod:`bssmask.data.asterisk_voices`). The options are a
:class:`~bssmask.data.corpus_options.CorpusConfig`.

Recipe, deterministic given ``seed`` (and ``transform_seed``):

1. Keep the speech files, all at one level (:func:`bssmask.data.speech.load_speaker`).
2. Split the utterances of each seen voice (``voices``) into train / dev /
   test by ``split`` fractions (utterance-disjoint splits; the voices are
   shared). The training-only voices (``train_voices``, and the synthetic
   ``synthetic_voices``) give all their utterances to train, and so do the
   ``transformed_voices`` pseudo-speakers of each recorded training voice,
   made of its training utterances (:mod:`bssmask.data.pseudo_voices`). The
   held-out voices (``test_unseen_voices``, ``dev_unseen_voices``) are in
   none of these splits and no pseudo-speaker is made of them.
3. Mix two different speakers at a relative level drawn uniformly in
   ``[-max_level_db, max_level_db]`` dB. Train and dev mixtures are fixed
   ``mix_length``-second excerpts of each speaker talking in turns: a pause
   of up to ``max_gap`` seconds, an utterance, and so on (so that, as in the
   test mixtures, a speaker is sometimes silent); test mixtures are two full
   utterances, the shorter zero-padded at the end (LibriMix's "max" mode).
   The other test sets are made like the test set: ``test_unseen`` of two
   different ``test_unseen_voices``; ``dev_unseen`` (for choosing remedies
   without looking at the test voices) of a ``dev_unseen_voices`` voice and
   another one of them, or, when only one voice is held out for it, a seen
   voice's validation utterance; ``test_same`` of two different test
   utterances of one seen voice. Each split draws from its own random
   stream, so a corpus with more test sets has the same train, dev and test
   mixtures as one without.
4. Scale a mixture and its sources together so that the mixture peaks at or
   below 0.9, and write 16-bit files. The sources are rounded first and the
   mixture is their exact sum, so ``mixture == s1 + s2`` sample for sample.

Layout (that of ``Libri2Mix/wav8k/max``, so :class:`asteroid.data.LibriMix`
reads it as it reads LibriMix)::

    <out_dir>/wav8k/max/
        <split>/{mix_clean,s1,s2}/<mixture_ID>.wav     splits of ALL_SPLITS that the options ask for
        metadata/mixture_<split>_mix_clean.csv   mixture_ID, mixture_path, source_1_path, source_2_path, length
        metadata/sources_<split>.csv             speakers, utterances and relative level of each mixture
        speakers.json                            the voices each split draws from, by kind:
                                                 {split: {recorded|transformed|synthetic: [voice, ...]}}
        corpus.json                              options and counts; written last, it marks a complete corpus

Example (``speech/`` holding a folder of audio files for each of five speakers):
    >>> config = CorpusConfig(n_train=64, n_dev=8, n_test=8, voices=("alpha", "beta", "gamma"),
    ...                       test_unseen_voices=("delta", "epsilon"))
    >>> from bssmask.data.speech import folder_speakers
    >>> speakers = folder_speakers("speech")  # doctest: +SKIP
    >>> build(speakers, "data/Mix", config)  # doctest: +SKIP
    PosixPath('data/Mix/wav8k/max/metadata')
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_folder, atomic_path, write_text
from ..tables import to_csv
from . import pseudo_voices
from .corpus_options import ALL_SPLITS, SPLITS, CorpusConfig, CorpusError
from .speech import at_level, load_speaker

#: Peak the written mixtures stay under.
PEAK = 0.9
#: Fewest usable utterances a voice may have.
MIN_UTTERANCES = 3



def _split_utterances(utterances, fractions, rng) -> dict[str, list]:
    """Utterance-disjoint train / dev / test lists of one speaker."""
    order = rng.permutation(len(utterances))
    n_train = int(round(fractions[0] * len(order)))
    n_dev = int(round(fractions[1] * len(order)))
    bounds = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev], "test": order[n_train + n_dev :]}
    return {split: [utterances[i] for i in idx] for split, idx in bounds.items()}


def _excerpt(pool, length: int, max_gap: int, rng) -> tuple[np.ndarray, list[str]]:
    """``length`` samples of a speaker: pauses of up to ``max_gap`` samples and utterances
    in turn, from a random point of the first pause or utterance."""
    parts, ids, total = [], [], 0
    while total < length:
        uid, wav = pool[rng.integers(len(pool))]
        turn = np.concatenate([np.zeros(rng.integers(max_gap + 1)), wav])
        if not parts:
            turn = turn[rng.integers(len(turn)) :]
        parts.append(turn)
        ids.append(uid)
        total += len(turn)
    return np.concatenate(parts)[:length], ids


def _excerpt_draw(pools: dict, config: CorpusConfig, same_voice: float = 0.0):
    """``draw(rng, used)`` of a train or dev split: ``mix_length`` s excerpts of two different speakers or,
    in a ``same_voice`` fraction of the mixtures, of one speaker (each excerpt from its own half of the
    speaker's utterances, drawn anew per mixture)."""
    length = int(round(config.mix_length * config.sample_rate))
    max_gap = int(round(config.max_gap * config.sample_rate))

    def draw(rng, used):
        if same_voice and rng.random() < same_voice:
            name = rng.choice(sorted(pools))
            order = rng.permutation(len(pools[name]))
            spk = [name, name]
            halves = [[pools[name][i] for i in half] for half in np.array_split(order, 2)]
        else:
            spk = rng.choice(sorted(pools), size=2, replace=False)
            halves = [pools[s] for s in spk]
        (a, ids_a), (b, ids_b) = (_excerpt(pool, length, max_gap, rng) for pool in halves)
        return [str(s) for s in spk], (a, b), (ids_a, ids_b)

    return draw


def _draw_utterances(pick_speakers, pools, rng, used: set, split: str):
    """Two different full utterances, a pair not drawn before, of the speakers ``pick_speakers(rng)`` gives."""
    for _ in range(1000):
        spk = pick_speakers(rng)
        picks = [pools[s][rng.integers(len(pools[s]))] for s in spk]
        key = frozenset((picks[0][0], picks[1][0]))
        if len(key) == 2 and key not in used:
            used.add(key)
            length = max(len(w) for _, w in picks)
            wavs = tuple(np.pad(w, (0, length - len(w))) for _, w in picks)
            return [str(s) for s in spk], wavs, ([picks[0][0]], [picks[1][0]])
    raise CorpusError(f"{split}: not enough distinct utterance pairs; lower n_{split} or add speech")


def _utterance_draw(split: str, pools: dict, partners: dict | None = None, same_voice: bool = False):
    """``draw(rng, used)`` of a split of full-utterance mixtures.

    Two different speakers of ``pools``; with ``partners``, one of ``pools``
    and one of ``partners``; with ``same_voice``, two utterances of one speaker.
    """
    if same_voice:
        def pick(rng):
            return [rng.choice(sorted(pools))] * 2
    elif partners is not None:
        def pick(rng):
            return [rng.choice(sorted(pools)), rng.choice(sorted(set(partners) - set(pools)))]
    else:
        def pick(rng):
            return rng.choice(sorted(pools), size=2, replace=False)
    every = {**(partners or {}), **pools}
    return lambda rng, used: _draw_utterances(pick, every, rng, used, split)


def _mix(wavs, level_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Sources ``[2, T]`` and their mixture ``[T]`` as int16, source 1 ``level_db`` dB above source 2."""
    gains = 10 ** (np.array([level_db, -level_db]) / 40)
    sources = np.stack(wavs) * gains[:, None]
    peak = np.abs(sources.sum(0)).max()
    if peak > PEAK:
        sources *= PEAK / peak
    sources = np.round(sources * 32767).astype(np.int16)
    return sources, sources.astype(np.int32).sum(0).astype(np.int16)


def _write_split(draw, n: int, excerpts: bool, config, split_dir: Path, final_dir: Path,
                 rng) -> tuple[list[dict], list[dict]]:
    """Write one split's wav files; return its LibriMix rows and its source rows.

    ``draw(rng, used)`` gives a mixture's speakers, signals and utterance ids
    (:func:`_excerpt_draw`, :func:`_utterance_draw`); mixtures of ``excerpts``
    are named by their index, the others by their utterances.
    """
    for sub in ("mix_clean", "s1", "s2"):
        (split_dir / sub).mkdir(parents=True)
    used: set = set()
    rows, info = [], []
    for i in range(n):
        spk, wavs, ids = draw(rng, used)
        mixture_id = f"{i:05d}-{spk[0]}_{i:05d}-{spk[1]}" if excerpts else "_".join(i[0] for i in ids)
        level_db = float(rng.uniform(-config.max_level_db, config.max_level_db))
        sources, mixture = _mix(wavs, level_db)
        paths = {sub: final_dir / sub / f"{mixture_id}.wav" for sub in ("mix_clean", "s1", "s2")}
        for sub, wav in zip(("mix_clean", "s1", "s2"), (mixture, *sources)):
            sf.write(split_dir / sub / f"{mixture_id}.wav", wav, config.sample_rate, subtype="PCM_16")
        rows.append(dict(mixture_ID=mixture_id, mixture_path=paths["mix_clean"], source_1_path=paths["s1"],
                         source_2_path=paths["s2"], length=len(mixture)))
        info.append(dict(mixture_ID=mixture_id, speaker_1=spk[0], speaker_2=spk[1],
                         utterances_1=";".join(ids[0]), utterances_2=";".join(ids[1]),
                         level_db=round(level_db, 3)))
    return rows, info


def corpus_dir(out_dir: str | Path, sample_rate: int = 8000) -> Path:
    """The folder holding the split folders and ``metadata/`` (``<out_dir>/wav8k/max``)."""
    return Path(out_dir) / f"wav{sample_rate // 1000}k" / "max"


def _split_draws(speakers: dict[str, list[Path]], config: CorpusConfig) -> tuple[dict[str, tuple], list]:
    """Each split's ``(draw, {speaker: utterances})`` (:func:`_write_split`), in the order of :data:`ALL_SPLITS`,
    and the pseudo-speakers (:func:`bssmask.data.pseudo_voices.draw`).

    Raises:
        CorpusError: a voice of the options that ``speakers`` lacks, a voice
            with too few usable utterances, fewer than two seen voices.
    """
    held = config.held_out()
    held_names = [name for names in held.values() for name in names]
    train_only = [*config.train_voices, *config.synthetic_voices]
    seen = list(config.voices) or [name for name in sorted(speakers) if name not in (*held_names, *train_only)]
    for name in (*seen, *train_only, *held_names):
        if name not in speakers:
            raise CorpusError(f"voice {name!r}: not among the speakers found ({', '.join(sorted(speakers))}); "
                              "set voices, train_voices, test_unseen_voices and dev_unseen_voices to their names")
    if len(seen) < 2:
        raise CorpusError(f"voices: need at least two seen voices, got {seen}")
    utterances = {name: load_speaker(name, speakers[name], config)
                  for name in sorted({*seen, *train_only, *held_names})}
    per_split = {split: {} for split in SPLITS}
    rng = np.random.default_rng(config.seed)
    for name in sorted(seen):
        utts = utterances[name]
        parts = _split_utterances(utts, config.split, rng) if len(utts) >= MIN_UTTERANCES else {}
        if not parts or not all(parts.values()):
            raise CorpusError(f"voice {name}: {len(utterances[name])} usable utterances ({config.min_duration} to "
                              f"{config.max_duration} s, not silent), too few for a train/dev/test split "
                              f"{list(config.split)}")
        for split, utts in parts.items():
            per_split[split][name] = utts
    for name in (*train_only, *held_names):
        if len(utterances[name]) < MIN_UTTERANCES:
            raise CorpusError(f"voice {name}: {len(utterances[name])} usable utterances ({config.min_duration} to "
                              f"{config.max_duration} s, not silent); a held-out or training-only voice needs "
                              f"{MIN_UTTERANCES}")
    per_split["train"].update({name: utterances[name] for name in config.train_voices})
    pseudo = pseudo_voices.draw(sorted(per_split["train"]), config.transformed_voices, config.transform_seed)
    for name, utts in pseudo_voices.transform(per_split["train"], pseudo, config.sample_rate, held_names).items():
        per_split["train"][name] = [(uid, at_level(wav)) for uid, wav in utts]
    per_split["train"].update({name: utterances[name] for name in config.synthetic_voices})
    draws = {"train": (_excerpt_draw(per_split["train"], config, config.train_same_voice), per_split["train"]),
             "dev": (_excerpt_draw(per_split["dev"], config), per_split["dev"])}
    draws["test"] = (_utterance_draw("test", per_split["test"]), per_split["test"])
    for split, names in held.items():
        pools = {name: utterances[name] for name in names}
        partners = per_split["dev"] if len(pools) == 1 else None
        draws[split] = (_utterance_draw(split, pools, partners), {**(partners or {}), **pools})
    draws["test_same"] = (_utterance_draw("test_same", per_split["test"], same_voice=True), per_split["test"])
    return {split: draws[split] for split in config.splits()}, pseudo


def build(speakers: dict[str, list[Path]], out_dir: str | Path, config: CorpusConfig = CorpusConfig(),
          licences: dict[str, str] | None = None) -> Path:
    """Build the corpus under ``out_dir`` (see the module docstring); return its ``metadata`` folder.

    The corpus is written to a temporary folder and moved into place when
    complete, so an interrupted build leaves no corpus, and the next build
    removes its temporary folder and builds the whole corpus. An existing
    corpus built with the same options and files is kept as is (a rerun is
    a no-op); one built with other options is replaced.

    Args:
        speakers: audio files by speaker name (:func:`bssmask.data.speech.folder_speakers`, or the
            Asterisk2Mix recipe's ``asterisk_speakers``); at least two speakers.
        out_dir: corpus root (for example ``data/Asterisk2Mix``).
        config: the options.
        licences: the licence of each synthetic voice, recorded in ``corpus.json``.

    Raises:
        CorpusError: bad options, too little speech, or ``out_dir`` holding
            something that is not a corpus built here.
    """
    config.validate()
    out_dir = Path(out_dir).resolve()
    final = corpus_dir(out_dir, config.sample_rate)
    options = {key: list(value) if isinstance(value, tuple) else value
               for key, value in dataclasses.asdict(config).items()}
    sources = {name: [str(f) for f in files] for name, files in sorted(speakers.items())}
    marker = final / "corpus.json"
    if marker.is_file():
        previous = json.loads(marker.read_text())
        if previous.get("options") == options and previous.get("source_files") == sources:
            return final / "metadata"
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise CorpusError(f"{out_dir}: exists and is not a corpus built here; remove it or choose another folder")

    draws, pseudo = _split_draws(speakers, config)
    with atomic_folder(out_dir) as tmp:
        tmp_final = corpus_dir(tmp, config.sample_rate)
        (tmp_final / "metadata").mkdir(parents=True)
        for split, (draw, _pools) in draws.items():
            split_rng = np.random.default_rng([config.seed, ALL_SPLITS.index(split)])
            rows, info = _write_split(draw, getattr(config, f"n_{split}"), split in ("train", "dev"), config,
                                      tmp_final / split, final / split, split_rng)
            write_text(tmp_final / "metadata" / f"mixture_{split}_mix_clean.csv", to_csv(rows, list(rows[0])))
            write_text(tmp_final / "metadata" / f"sources_{split}.csv", to_csv(info, list(info[0])))
        kinds = {"transformed": {v.name for v in pseudo}, "synthetic": set(config.synthetic_voices)}
        voices = {split: {"recorded": sorted(set(pools).difference(*kinds.values())),
                          **{kind: sorted(names & set(pools)) for kind, names in kinds.items()}}
                  for split, (_, pools) in draws.items()}
        (tmp_final / "speakers.json").write_text(json.dumps(voices, indent=2) + "\n")
        summary = dict(
            options=options,
            utterances={split: {k: len(v) for k, v in pools.items()} for split, (_, pools) in draws.items()},
            source_files=sources,
            pseudo_voices=[dataclasses.asdict(v) for v in pseudo],
            licences={name: (licences or {}).get(name, "") for name in config.synthetic_voices},
        )
        (tmp_final / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    return final / "metadata"


def local_metadata(metadata_dir: str | Path, split_dirs: dict[str, str | Path]) -> None:
    """Copy each split's ``mixture_<split>_*.csv`` into its own folder, as Asteroid's recipes do.

    :class:`asteroid.data.LibriMix` takes a folder holding one split's CSV
    files; LibriMix's ``metadata`` folder holds all of them.

    Args:
        metadata_dir: a LibriMix (or :func:`build`) ``metadata`` folder.
        split_dirs: destination folder by split name (``{"train-360": "data/train-360", ...}``).

    Raises:
        CorpusError: a split has no ``mixture_<split>_mix_clean.csv``.
    """
    metadata_dir = Path(metadata_dir)
    for split, dest in split_dirs.items():
        found = sorted(metadata_dir.glob(f"mixture_{split}_mix_*.csv"))
        if not any(p.name.endswith("_mix_clean.csv") for p in found):
            raise CorpusError(f"{metadata_dir}: no mixture_{split}_mix_clean.csv")
        for path in found:
            with atomic_path(Path(dest) / path.name) as tmp:
                shutil.copyfile(path, tmp)
