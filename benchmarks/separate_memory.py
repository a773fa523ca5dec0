"""Real-time factor and peak memory of ``bssmask separate`` against input length: in chunks and whole.

Usage: ``python benchmarks/separate_memory.py [--minutes 1 10 60] [--chunk-seconds 30] [--model default]
[--work /tmp/bssmask-separate-bench]``

For each length, a two-speaker mixture at 8 kHz is made from the bundled
clips (``speech_a + speech_b``, each 10 s repeat circularly shifted, 32-bit
float WAV) and separated twice by the command, each run in its own process
on the CPU: in chunks of ``--chunk-seconds`` (the default path), and whole
(``--chunk-seconds`` longer than the input, the path every input took
before chunks). Prints one Markdown table: wall time of the command
(start-up included), real-time factor (wall time / audio duration), peak
resident memory of the command's process (``ru_maxrss`` of a process that
runs only it), chunked / whole ratios, and the SI-SDR between the two
runs' estimates (dB, mean over the sources, in the better of the two
source orders).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bssmask.data import DEFAULT_SOURCES
from bssmask.metrics import si_sdr

RATE = 8000


def make_mixture(path: Path, minutes: float) -> None:
    """``minutes`` of the bundled pair's sum at 8 kHz, written block by block (each repeat shifted)."""
    a, b = (sf.read(p, dtype="float32")[0] for p in DEFAULT_SOURCES)
    repeats = int(np.ceil(minutes * 60 * RATE / len(a)))
    with sf.SoundFile(path, "w", RATE, 1, format="WAV", subtype="FLOAT") as out:
        for k in range(repeats):
            out.write(np.roll(a, 997 * k) + np.roll(b, 1999 * k + 3000))


def measure(argv: list[str]) -> None:
    """Run ``argv``; print its wall seconds and peak resident memory (MiB) as one line (``--measure``)."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def run(mix: Path, out: Path, model: str, chunk_seconds: float) -> tuple[float, float]:
    """Wall seconds and peak MiB of ``bssmask separate`` on ``mix``, in a process that runs only it."""
    command = [sys.executable, "-m", "bssmask.cli", "separate", "--model", model, "--device", "cpu",
               "--chunk-seconds", str(chunk_seconds), "--out", str(out), str(mix)]
    line = subprocess.run([sys.executable, __file__, "--measure", *command], check=True, capture_output=True,
                          text=True).stdout
    wall, peak = map(float, line.split())
    return wall, peak


def agreement(first: Path, second: Path, stem: str) -> float:
    """SI-SDR (dB) between two runs' estimates, mean over the sources, in the better source order."""
    def read(folder):
        return torch.from_numpy(np.stack([sf.read(folder / f"{stem}_s{k}.wav", dtype="float32")[0] for k in (1, 2)]))

    x, y = read(first), read(second)
    return max(float(si_sdr(y, x).mean()), float(si_sdr(y.flip(0), x).mean()))


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        return measure(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--chunk-seconds", type=float, default=30.0)
    parser.add_argument("--model", default="default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bssmask-separate-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"bssmask separate --model {args.model} --device cpu, 8 kHz mono, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")
    print("| minutes | chunked s | whole s | RTF chunked | RTF whole | time ratio | peak MiB chunked | "
          "peak MiB whole | memory ratio | SI-SDR chunked vs whole (dB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for minutes in args.minutes:
        stem = f"mix{minutes:g}min"
        mix = args.work / f"{stem}.wav"
        if not mix.exists():
            make_mixture(mix, minutes)
        seconds = sf.info(mix).duration
        chunked = run(mix, args.work / "chunked", args.model, args.chunk_seconds)
        whole = run(mix, args.work / "whole", args.model, seconds + 1)
        score = agreement(args.work / "chunked", args.work / "whole", stem)
        print(f"| {minutes:g} | {chunked[0]:.1f} | {whole[0]:.1f} | {chunked[0] / seconds:.4f} | "
              f"{whole[0] / seconds:.4f} | {chunked[0] / whole[0]:.2f} | {chunked[1]:.0f} | {whole[1]:.0f} | "
              f"{chunked[1] / whole[1]:.2f} | {score:.1f} |", flush=True)


if __name__ == "__main__":
    main()
