"""Time of the whole ablation grid on the bundled pair: fast_bss_eval vs mir_eval scoring.

Both runs compute the same estimates (``bssmask.ablation.estimate_grid``) and
score them; one uses bssmask's batched metrics (fast_bss_eval), the other
mir_eval's ``bss_eval_sources`` row by row. Prints both times, their ratio and
the largest SDR/SIR/SAR difference.

    python benchmarks/ablation_speed.py [--repeats 3]
"""

import argparse
import time

import mir_eval
import numpy as np
import torch

from bssmask import ablation
from bssmask.audio import load_sources
from bssmask.data import DEFAULT_SOURCES
from bssmask.metrics import MAX_DB, bss_eval


def grid_with_bssmask(sources, config):
    rows, est = ablation.estimate_grid(sources, config)
    scores = bss_eval(sources, est)
    return np.stack([scores[k].numpy() for k in ("sdr", "sir", "sar")], axis=1)  # [G, 3, n_src]


def grid_with_mir_eval(sources, config):
    rows, est = ablation.estimate_grid(sources, config)
    ref = sources.double().numpy()
    return np.stack([
        np.stack(mir_eval.separation.bss_eval_sources(ref, e.double().numpy(), compute_permutation=False)[:3])
        for e in est
    ])


def best_time(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best time is kept")
    args = parser.parse_args()
    sources, rate, _ = load_sources(DEFAULT_SOURCES)
    config = ablation.AblationConfig()
    n_rows = len(ablation.grid(config))
    est_t, _ = best_time(lambda: ablation.estimate_grid(sources, config), args.repeats)
    fast_t, fast = best_time(lambda: grid_with_bssmask(sources, config), args.repeats)
    ref_t, ref = best_time(lambda: grid_with_mir_eval(sources, config), max(1, args.repeats - 2))
    # Values over 100 dB (the exact complex oracle, 1e-13 relative error) are
    # float64 rounding noise for both implementations: shown apart.
    comparable = np.isfinite(ref) & (np.abs(ref) < 100)
    diff = np.abs(fast - ref)[comparable].max()
    exact = np.abs(np.minimum(fast, MAX_DB) - np.minimum(ref, MAX_DB))[~comparable]
    print(f"grid: {n_rows} rows x {sources.shape[0]} sources, {sources.shape[1] / rate:.1f} s at {rate} Hz, "
          f"torch threads {torch.get_num_threads()}")
    print(f"estimates alone (STFT, masks, resampling, iSTFT): {est_t:8.2f} s")
    print(f"whole grid scored by bssmask (fast_bss_eval):     {fast_t:8.2f} s")
    print(f"whole grid scored by mir_eval bss_eval_sources:   {ref_t:8.2f} s")
    print(f"speed-up, whole grid: {ref_t / fast_t:.1f}x")
    print(f"max |SDR/SIR/SAR difference| over the {comparable.sum()} values under 100 dB: {diff:.2e} dB; "
          f"over the {exact.size} values above (exact oracle): {exact.max() if exact.size else 0:.2f} dB")


if __name__ == "__main__":
    main()
