"""Training throughput (1 and 2 CPU processes or one GPU, float32 and bfloat16) and inference cost of the recipe's model.

Usage: ``python benchmarks/train_throughput.py [--steps 40] [--conf recipes/asterisk2mix/conf.yml]
[--accelerator gpu] [--peers]``

Prints one table:

- training: mixtures per second (all processes together) of the default
  model, loss and batch of the recipe's ``conf.yml`` on ``segment``-second
  mixtures of real speech (the bundled clips), timed after warm-up steps,
  in ``32-true`` and ``bf16-mixed`` precision, and the bf16 / fp32
  throughput ratio: on the CPU with one process and with two DDP processes
  (gloo), with ``--accelerator gpu`` on one GPU;
- with ``--peers``: the same for each Asteroid baseline of the config's
  ``report.peers`` (float32, as the report trains them), and its
  throughput against the default model's in the recipe's precision;
- inference: real-time factor (compute time / audio duration) of separating
  the 10 s mixture of the two bundled prompts, and the peak resident memory
  of that process (on a GPU: the peak GPU memory).

Each measurement runs in its own process (``--measure``), so that the
DDP launcher can re-run it and memory peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONF = ROOT / "recipes" / "asterisk2mix" / "conf.yml"
#: Training measurements of each accelerator: name -> (DDP processes, Lightning precision).
TRAINING = {"cpu": {"train_1_32": (1, "32-true"), "train_1_bf16": (1, "bf16-mixed"),
                    "train_2_32": (2, "32-true"), "train_2_bf16": (2, "bf16-mixed")},
            "gpu": {"train_1_32": (1, "32-true"), "train_1_bf16": (1, "bf16-mixed")}}
PEER = "peer_"  # measure name prefix: "peer_convtasnet" times report.peers.convtasnet


class SpeechPairs(Dataset):
    """Mixtures of random excerpts of the two bundled prompts: ``(mixture [T], sources [2, T])``."""

    def __init__(self, seconds: float, rate: int, size: int = 10_000):
        from bssmask.audio import load_sources
        from bssmask.data import DEFAULT_SOURCES

        self.sources, _, _ = load_sources(DEFAULT_SOURCES, rate)
        self.length, self.size = int(seconds * rate), size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        gen = torch.Generator().manual_seed(index)
        starts = torch.randint(0, self.sources.shape[-1] - self.length, (2,), generator=gen)
        sources = torch.stack([self.sources[k, s : s + self.length] for k, s in enumerate(starts.tolist())])
        return sources.sum(0), sources


def measure_training(conf: dict, devices: int, precision: str, steps: int, accelerator: str = "cpu",
                     peer: str | None = None, warmup: int = 5) -> dict | None:
    import pytorch_lightning as pl
    from asteroid.engine.optimizers import make_optimizer

    from bssmask import losses
    from bssmask.engine.system import SeparationSystem
    from bssmask.peers import build_peer
    from bssmask.experiment.build import build_loss, build_model, build_trainer, peer_options

    class Timer(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if accelerator == "gpu":
                torch.cuda.synchronize()  # the step's kernels done before the clock is read
            now = time.perf_counter()
            if batch_idx == warmup - 1:
                self.start = now
            self.end, self.batches = now, batch_idx + 1 - warmup

    pl.seed_everything(0, verbose=False)
    if peer:
        kind, options = peer_options(conf, peer)
        model = build_peer(kind, conf["data"]["n_src"], conf["data"]["sample_rate"], **options)
        criterion = losses.get("sisdr")
    else:
        model = build_model(conf)
        criterion = build_loss(conf, model)
    data = SpeechPairs(conf["data"]["segment"], conf["data"]["sample_rate"])
    batch = conf["training"]["batch_size"]
    loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=conf["training"]["num_workers"],
                        drop_last=True)
    optimizer = make_optimizer(model.parameters(), optimizer=conf["optim"]["optimizer"], lr=conf["optim"]["lr"])
    system = SeparationSystem(model, optimizer, criterion, loader, None, config=conf)
    conf = {**conf, "trainer": {**conf["trainer"], "accelerator": accelerator, "devices": devices,
                                "precision": precision}}
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(conf, tmp, callbacks=[timer], logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, max_epochs=1, limit_train_batches=warmup + steps,
                                limit_val_batches=0)
        trainer.fit(system)
    if not trainer.is_global_zero:
        return None
    mixtures = timer.batches * batch * devices
    return {"measure": f"{PEER}{peer}" if peer else f"train_{devices}_{precision}", "processes": devices,
            "batch_per_process": batch, "mixtures_per_s": mixtures / (timer.end - timer.start),
            "threads_per_process": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters())}


def measure_inference(conf: dict, accelerator: str = "cpu", repeats: int = 5) -> dict:
    from bssmask.audio import load_sources
    from bssmask.data import DEFAULT_SOURCES
    from bssmask.experiment.build import build_model

    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    model = build_model(conf).eval().to(device)
    rate = conf["data"]["sample_rate"]
    sources, _, _ = load_sources(DEFAULT_SOURCES, rate)
    mixture = sources.sum(0)[None].to(device)  # the two bundled 10 s prompts
    seconds = mixture.shape[-1] / rate
    with torch.no_grad():
        model(mixture)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            model(mixture)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = (time.perf_counter() - start) / repeats
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"measure": "infer", "audio_s": seconds, "rtf": elapsed / seconds, "peak_mib": peak_mib,
            "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters())}


def run_measure(args, measure: str) -> dict:
    """One measurement in its own process: its ``RESULT`` line."""
    proc = subprocess.run([sys.executable, __file__, "--conf", args.conf, "--steps", str(args.steps),
                           "--accelerator", args.accelerator, "--measure", measure], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.exit(f"{measure} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", default=str(DEFAULT_CONF), help="recipe config (default: asterisk2mix)")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per run")
    parser.add_argument("--accelerator", choices=tuple(TRAINING), default="cpu",
                        help="cpu (1 and 2 processes) or gpu (one GPU)")
    parser.add_argument("--peers", action="store_true", help="also time the baselines of the config's report.peers")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from bssmask import recipe_config

    conf = recipe_config.load(args.conf)
    training = TRAINING[args.accelerator]
    if args.measure:
        if args.measure == "infer":
            result = measure_inference(conf, args.accelerator)
        elif args.measure.startswith(PEER):
            result = measure_training(conf, 1, "32-true", args.steps, args.accelerator, args.measure[len(PEER):])
        else:
            devices, precision = training[args.measure]
            result = measure_training(conf, devices, precision, args.steps, args.accelerator)
        if result is not None:
            print("RESULT " + json.dumps(result), flush=True)
        return 0

    peers = [f"{PEER}{name}" for name in conf["report"]["peers"]] if args.peers else []
    results = {measure: run_measure(args, measure) for measure in (*training, *peers, "infer")}
    model = conf["model"]
    where = "GPU" if args.accelerator == "gpu" else "CPU process"
    print(f"model: {model['masker']} {model['masker_kwargs']}, {model['mask']} head, n_fft {model['n_fft']}, "
          f"hop {model['hop']}, {results['infer']['parameters']:,} parameters; "
          f"{conf['data']['segment']} s training mixtures, loss {conf['loss']['loss']}; {args.accelerator}")
    print("| measure | value |")
    print("| --- | --- |")
    for key, (_devices, precision) in training.items():
        r = results[key]
        threads = f"{r['threads_per_process']} thread{'s' if r['threads_per_process'] > 1 else ''}"
        each = " each" if r["processes"] > 1 else ""
        print(f"| training {precision}, {r['processes']} {where}{'es' if r['processes'] > 1 else ''} "
              f"({threads}{each}, batch {r['batch_per_process']}{each}) | {r['mixtures_per_s']:.1f} mixtures/s |")
    for devices in sorted({devices for devices, _ in training.values()}):
        ratio = results[f"train_{devices}_bf16"]["mixtures_per_s"] / results[f"train_{devices}_32"]["mixtures_per_s"]
        print(f"| training speed bf16-mixed / 32-true, {devices} {where}{'es' if devices > 1 else ''} "
              f"| {ratio:.2f}x |")
    ours = results["train_1_bf16" if conf["trainer"]["precision"].startswith("bf16") else "train_1_32"]
    for measure in peers:
        r = results[measure]
        print(f"| training peer {measure[len(PEER):]} ({r['parameters']:,} parameters), 32-true, 1 {where} "
              f"| {r['mixtures_per_s']:.1f} mixtures/s, {r['mixtures_per_s'] / ours['mixtures_per_s']:.3f}x "
              f"the model's in {conf['trainer']['precision']} |")
    r = results["infer"]
    runs_on = "1 GPU" if args.accelerator == "gpu" else f"{r['threads']} threads"
    print(f"| inference real-time factor, {r['audio_s']:.0f} s mixture, {runs_on} | {r['rtf']:.4f} |")
    memory = "peak GPU memory allocated" if args.accelerator == "gpu" else "peak memory (process RSS)"
    print(f"| inference {memory} | {r['peak_mib']:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
