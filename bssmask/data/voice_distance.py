"""How far apart the training voices of a corpus are: the distance between the speakers' mean MFCCs.

Reads the training sources of a built corpus (``s1``, ``s2`` of
``train``, whose speakers ``sources_train.csv`` names), so it measures
what training sees. Each speaker is summed up by its mean MFCC vector
(torchaudio's MFCC: 20 coefficients of 40 mel bands, 32 ms frames, 8 ms
hop), over the frames within 30 dB of each excerpt's loudest; the 0th
coefficient, the frame's level, is left out, so the mixing gains do not
count. The distance of two speakers is the Euclidean distance of their
vectors: it grows with differences of the long-term spectrum (formants,
vocal-tract length, voice quality, channel). Printed as Markdown: every
pair of recorded voices, each pseudo-speaker to its source, each synthetic
voice to its nearest recorded voice, each held-out voice (read from
``test_unseen`` and ``dev_unseen``) to its nearest recorded and its nearest
training voice of any kind, and, as the floor of the measure, each
recorded voice's two halves (its excerpts of even and odd mixtures).
Each row also gives the two voices' median f0 (Hz): the median over their
excerpts of each excerpt's median f0 (Praat's pitch, 75 to 600 Hz,
:func:`bssmask.data.pseudo_voices.median_f0`).

Usage, from ``recipes/asterisk2mix``:
``python local/voice_distance.py --corpus data/Asterisk2Mix/wav8k/max [--max_excerpts 300]``
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from bssmask.data.pseudo_voices import median_f0
from bssmask.errors import UserError, entry_point
from bssmask.tables import to_markdown

#: Frames quieter than the loudest of their excerpt by more than this (dB) are left out (pauses).
FLOOR_DB = 30.0


def mean_mfcc(paths, sample_rate: int) -> np.ndarray:
    """Mean MFCC vector ``[19]`` (coefficients 1 to 19) of the speech frames of the files ``paths``."""
    mfcc = torchaudio.transforms.MFCC(sample_rate, n_mfcc=20, log_mels=True,
                                      melkwargs=dict(n_fft=256, hop_length=64, n_mels=40))
    frames = []
    for path in paths:
        wav, _ = sf.read(path, dtype="float32")
        coeffs = mfcc(torch.from_numpy(wav)).T  # [frames, 20]; coefficient 0 ~ frame level
        frames.append(coeffs[coeffs[:, 0] > coeffs[:, 0].max() - FLOOR_DB * np.sqrt(40) / 10 * np.log(10)][:, 1:])
    return torch.cat(frames).mean(0).numpy()


def speaker_excerpts(corpus: Path, split: str, max_excerpts: int) -> dict[str, list[list[Path]]]:
    """Each speaker's source files of a split, split in those of even and odd mixtures."""
    table = corpus / "metadata" / f"sources_{split}.csv"
    if not table.is_file():
        raise UserError(f"{corpus}: not a built corpus (no metadata/sources_{split}.csv)")
    halves: dict[str, list[list[Path]]] = {}
    with open(table, newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            for k in (1, 2):
                half = halves.setdefault(row[f"speaker_{k}"], [[], []])[i % 2]
                if len(half) < max_excerpts // 2:
                    half.append(corpus / split / f"s{k}" / f"{row['mixture_ID']}.wav")
    return halves


def distances(corpus: Path, max_excerpts: int) -> list[dict]:
    """The rows of the table (see the module docstring)."""
    speakers = json.loads((corpus / "speakers.json").read_text())
    kinds = speakers["train"]
    record = json.loads((corpus / "corpus.json").read_text())
    rate = record["options"]["sample_rate"]
    halves = speaker_excerpts(corpus, "train", max_excerpts)
    held_out = [name for split in ("test_unseen", "dev_unseen") if split in speakers
                for name in speakers[split]["recorded"] if name not in halves]
    excerpts = {name: a + b for name, (a, b) in halves.items()}
    for split in ("test_unseen", "dev_unseen"):
        for name, (a, b) in speaker_excerpts(corpus, split, max_excerpts).items() if split in speakers else ():
            if name in held_out:
                excerpts[name] = a + b
    means = {name: mean_mfcc(paths, rate) for name, paths in excerpts.items()}
    f0 = {name: float(np.median([median_f0(sf.read(p)[0], rate) for p in paths])) for name, paths in excerpts.items()}

    def dist(a, b):
        return float(np.linalg.norm(means[a] - means[b]))

    recorded = kinds["recorded"]
    rows = [dict(kind="recorded pair", voice=a, other=b, distance=dist(a, b))
            for a, b in itertools.combinations(recorded, 2)]
    rows += [dict(kind="same voice, two halves", voice=name, other=name,
                  distance=float(np.linalg.norm(mean_mfcc(halves[name][0], rate) - mean_mfcc(halves[name][1], rate))))
             for name in recorded]
    rows += [dict(kind=f"pseudo (f0 x{v['f0_factor']:.2f}, formants x{v['formant_factor']:.2f})", voice=v["name"],
                  other=v["source"], distance=dist(v["name"], v["source"])) for v in record["pseudo_voices"]]
    rows += [dict(kind="synthetic, nearest recorded", voice=name, other=min(recorded, key=lambda r: dist(name, r)),
                  distance=min(dist(name, r) for r in recorded)) for name in kinds["synthetic"]]
    for pool, kind in ((recorded, "held-out, nearest recorded"), (list(halves), "held-out, nearest training voice")):
        rows += [dict(kind=kind, voice=name, other=min(pool, key=lambda r: dist(name, r)),
                      distance=min(dist(name, r) for r in pool)) for name in held_out]
    return [dict(row, f0_voice=f0[row["voice"]], f0_other=f0[row["other"]]) for row in rows]


@entry_point("voice_distance.py")
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path,
                        help="a built corpus (<storage_dir>/Asterisk2Mix/wav8k/max)")
    parser.add_argument("--max_excerpts", type=int, default=300, help="training excerpts read per speaker")
    args = parser.parse_args(argv)
    rows = distances(args.corpus, args.max_excerpts)
    print(to_markdown(rows, {"kind": None, "voice": None, "other": None, "distance": ".2f", "f0_voice": ".0f",
                             "f0_other": ".0f"}), end="")
    for kind in ("recorded pair", "same voice, two halves", "pseudo", "synthetic", "held-out, nearest recorded",
                 "held-out, nearest training voice"):
        values = [r["distance"] for r in rows if r["kind"].startswith(kind)]
        if values:
            print(f"{kind}: min {min(values):.2f}, median {np.median(values):.2f}, max {max(values):.2f} "
                  f"({len(values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
