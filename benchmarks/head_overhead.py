"""Time one training step with a bssmask head against the same Asteroid model with its own mask nonlinearity.

Each pair is one Asteroid model built twice with the same weights: as
Asteroid makes it, and after :func:`bssmask.separator.attach_head` with the
head that plays the same role. A training step is forward, PIT negative
SI-SDR and backward on a batch of real mixtures from the bundled clips.
Steps of the two models alternate, after warm-up, and the medians of wall
and CPU time per step are compared: ``ratio = head / asteroid`` (target:
at most 1.05).

Usage:
    python benchmarks/head_overhead.py [--steps 30] [--batch 4] [--seconds 1.0] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr
from asteroid.models import DCUNet, DPRNNTasNet

from bssmask.audio import load_sources
from bssmask.data import DEFAULT_SOURCES
from bssmask.separator import attach_head

TARGET = 1.05


def _pairs():
    """(name, Asteroid model, the same model with a bssmask head)."""
    dcunet = DCUNet("DCUNet-10", n_src=2, sample_rate=8000, fix_length_mode="pad",
                    stft_n_filters=256, stft_kernel_size=256, stft_stride=64, mask_bound="tanh")
    dprnn = DPRNNTasNet(n_src=2, fb_name="stft", n_filters=256, kernel_size=256, stride=64,
                        sample_rate=8000, mask_act="sigmoid", n_repeats=2, bn_chan=64, hid_size=64)
    return [
        ("DCUNet-10, BDT bound vs cirm head bound=tanh",
         dcunet, attach_head(copy.deepcopy(dcunet), "cirm", bound="tanh")),
        ("DPRNNTasNet stft, sigmoid vs cirm head bound=sigmoid",
         dprnn, attach_head(copy.deepcopy(dprnn), "cirm", bound="sigmoid")),
    ]


def _batch(size: int, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` mixtures of the bundled pair at different offsets: ``[size, T]``, sources ``[size, 2, T]``."""
    sources, rate, _ = load_sources(DEFAULT_SOURCES)
    length = int(seconds * rate)
    starts = torch.linspace(0, sources.shape[-1] - length, size).long().tolist()
    batch = torch.stack([sources[:, s : s + length] for s in starts])
    return batch.sum(1), batch


def _step(model, loss_fn, mix, sources) -> tuple[float, float]:
    """Wall and CPU seconds of forward + loss + backward."""
    wall, cpu = time.perf_counter(), time.process_time()
    loss_fn(model(mix), sources).backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0, help="mixture length")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    mix, sources = _batch(args.batch, args.seconds)
    loss_fn = PITLossWrapper(pairwise_neg_sisdr, pit_from="pw_mtx")
    print(f"batch {args.batch} x {args.seconds:g} s at 8 kHz, {args.steps} steps each, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"{'pair':55s} {'asteroid ms':>11s} {'head ms':>8s} {'wall ratio':>10s} {'cpu ratio':>9s}")
    worst = 0.0
    for name, asteroid_model, head_model in _pairs():
        times = {"asteroid": [], "head": []}
        for step in range(args.warmup + args.steps):
            for key, model in (("asteroid", asteroid_model), ("head", head_model)):
                measured = _step(model, loss_fn, mix, sources)
                if step >= args.warmup:
                    times[key].append(measured)
        wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
        cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
        ratio_wall, ratio_cpu = wall["head"] / wall["asteroid"], cpu["head"] / cpu["asteroid"]
        worst = max(worst, ratio_cpu)
        print(f"{name:55s} {1e3 * wall['asteroid']:11.1f} {1e3 * wall['head']:8.1f} "
              f"{ratio_wall:10.3f} {ratio_cpu:9.3f}")
    verdict = "within" if worst <= TARGET else "over"
    print(f"largest cpu ratio {worst:.3f}: {verdict} the target of {TARGET:.2f}")


if __name__ == "__main__":
    main()
