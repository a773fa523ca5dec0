"""The ablation's speed against mir_eval: in process, as a command, and over a dataset.

Side by side in one run, ratios printed:

1. In process, on the bundled pair and on a long pair (``--seconds``, built
   from the bundled clips by circular shifts): the whole default grid scored
   by bssmask (``ablation.estimate_grid``, then ``metrics.bss_eval``: batched
   fast_bss_eval, each distinct estimate once) against the same estimates scored
   by mir_eval's ``bss_eval_sources`` row by row, with the largest SDR/SIR/SAR
   difference.
2. As a command, start-up included: ``bssmask ablate --sources`` on the long
   pair against the mir_eval-scored grid of 1.
3. With ``--dataset CSV``: ``bssmask ablate --dataset`` on its first
   ``--max-mixtures`` mixtures with each ``--jobs`` count and, with the
   last count, ``--metrics sdr,si_sdr``, against mir_eval on the same mixtures (one
   process; ``--no-dataset-mir-eval`` leaves it out).

Each of 1.-3. runs on every device of ``--devices`` (``cpu,cuda`` on a GPU
machine: the same grid on the CPU and on the GPU, side by side); mir_eval
runs on the CPU once.

    python benchmarks/ablation_speed.py [--seconds 36] [--repeats 3] [--devices cpu,cuda]
        [--dataset recipes/asterisk2mix/data/test/mixture_test_mix_clean.csv --max-mixtures 100 --jobs 1,2]
"""

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mir_eval
import numpy as np
import soundfile as sf
import torch

from bssmask import ablation
from bssmask.audio import load_sources
from bssmask.data import DEFAULT_SOURCES
from bssmask.data.librimix import list_mixtures
from bssmask.metrics import bss_eval

SCORES = ("sdr", "sir", "sar")


def long_pair(sources: torch.Tensor, rate: int, seconds: float) -> torch.Tensor:
    """``[2, seconds * rate]``: each bundled source followed by circular shifts of itself."""
    length = int(seconds * rate)
    copies = -(-length // sources.shape[-1])
    tiled = torch.cat([sources.roll(k * rate // 3, dims=-1) for k in range(copies)], dim=-1)
    return tiled[:, :length].contiguous()


def with_bssmask(sources, config) -> np.ndarray:
    """``[rows, 3, n_src]``: SDR, SIR, SAR of each grid row's estimates (on ``config.device``).

    Each distinct estimate is scored once (rows that share one, :func:`ablation.estimate_key`, share its scores).
    """
    rows, est, index = ablation.estimate_grid(sources, config)
    scores = bss_eval(sources, est)
    return np.stack([scores[k].cpu().numpy() for k in SCORES], axis=1)[index]


def with_mir_eval(sources, config) -> np.ndarray:
    """The same, each row scored by mir_eval's ``bss_eval_sources`` (one call per row, as a mir_eval user would)."""
    rows, est, index = ablation.estimate_grid(sources, dataclasses.replace(config, device="cpu"))
    ref = sources.double().numpy()
    return np.stack([np.stack(mir_eval.separation.bss_eval_sources(ref, e.double().numpy(),
                                                                   compute_permutation=False)[:3])
                     for e in est[index]])


def timed(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def largest_difference(ours: np.ndarray, theirs: np.ndarray) -> str:
    """The largest difference over values under 100 dB (above, float64 rounding sets both)."""
    comparable = np.isfinite(theirs) & (np.abs(theirs) < 100) & (np.abs(ours) < 100)
    return f"{np.abs(ours - theirs)[comparable].max():.1e} dB over {comparable.sum()} values under 100 dB"


def command(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bssmask.cli", "ablate", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=36.0, help="length of the long pair (s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each bssmask timing; the best is kept")
    parser.add_argument("--devices", default="cpu", help="comma-separated torch devices for bssmask (cpu,cuda)")
    parser.add_argument("--dataset", help="a LibriMix CSV or s1/, s2/ folder for the dataset timings (3.)")
    parser.add_argument("--max-mixtures", type=int, default=100)
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs counts of the dataset timings")
    parser.add_argument("--no-dataset-mir-eval", action="store_true", help="skip mir_eval on the dataset")
    args = parser.parse_args()
    devices = args.devices.split(",")
    bundled, rate, _ = load_sources(DEFAULT_SOURCES)
    pairs = {"bundled pair": bundled, "long pair": long_pair(bundled, rate, args.seconds)}
    config = ablation.AblationConfig()
    rows = ablation.grid(config)
    distinct = len({ablation.estimate_key(row, config) for row in rows})
    print(f"default grid: {len(rows)} rows x 2 sources, {distinct} distinct estimates "
          f"(mir_eval scores every row, bssmask each distinct estimate), torch threads {torch.get_num_threads()}")
    mir_eval_results = {name: timed(lambda sources=sources: with_mir_eval(sources, ablation.AblationConfig()), 1)
                        for name, sources in pairs.items()}
    for device in devices:
        config = ablation.AblationConfig(device=device)
        for name, sources in pairs.items():
            ours_t, ours = timed(lambda sources=sources, config=config: with_bssmask(sources, config), args.repeats)
            theirs_t, theirs = mir_eval_results[name]
            print(f"{name} ({sources.shape[-1] / rate:.1f} s), in process on {device}: bssmask {ours_t:.2f} s, "
                  f"mir_eval {theirs_t:.2f} s: {theirs_t / ours_t:.1f}x; {largest_difference(ours, theirs)}")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for k, source in enumerate(pairs["long pair"].numpy()):
            files.append(Path(tmp) / f"long_{k}.wav")
            sf.write(files[-1], source, rate, subtype="FLOAT")
        theirs_t = mir_eval_results["long pair"][0]
        for device in devices:
            cmd_t = min(command(["--sources", *map(str, files), "--out", f"{tmp}/out", "--device", device])
                        for _ in range(args.repeats))
            print(f"long pair as a command on {device} (start-up included): bssmask ablate {cmd_t:.2f} s, "
                  f"mir_eval grid in process {theirs_t:.2f} s: {theirs_t / cmd_t:.1f}x")
        if args.dataset:
            dataset_timings(args, devices, f"{tmp}/ds")


def dataset_timings(args, devices: list[str], out: str) -> None:
    """3.: ``ablate --dataset`` with each device and ``--jobs`` count, against mir_eval in one process."""
    mixtures = list_mixtures(args.dataset)[: args.max_mixtures]
    base = ["--dataset", args.dataset, "--max-mixtures", str(len(mixtures)), "--out", out]
    job_counts = args.jobs.split(",")
    most = job_counts[-1]  # the metric subset runs with the last --jobs count
    runs = {}
    for device in devices:
        for jobs in job_counts:
            runs[f"--device {device} --jobs {jobs}"] = command([*base, "--device", device, "--jobs", jobs])
        runs[f"--device {device} --jobs {most} --metrics sdr,si_sdr"] = command(
            [*base, "--device", device, "--jobs", most, "--metrics", "sdr,si_sdr"])
    theirs_t = None
    if not args.no_dataset_mir_eval:
        start = time.perf_counter()
        for _, paths in mixtures:
            sources, _, _ = load_sources(paths)
            with_mir_eval(sources, ablation.AblationConfig())
        theirs_t = time.perf_counter() - start
    for name, ours_t in runs.items():
        against = f", mir_eval (one process) {theirs_t:.1f} s: {theirs_t / ours_t:.1f}x" if theirs_t else ""
        print(f"{len(mixtures)} mixtures of {args.dataset}, bssmask ablate {name}: {ours_t:.1f} s{against}")


if __name__ == "__main__":
    main()
