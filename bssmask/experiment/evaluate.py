"""Scoring a model on the test sets of a recipe config: per-mixture rows, summaries, their files.

- :func:`predict_rows`: every test mixture of a config scored
  (:func:`~bssmask.engine.scoring.score_separation`), split across the
  config's devices by the Trainer of :func:`~bssmask.experiment.build.build_trainer`;
- :func:`summarize`: means over mixtures, of the input baseline and of the
  improvement;
- :func:`test_sets`, :func:`score_sets`: the config's test sets (seen voices,
  held-out voices, the held-out validation voice, one voice) scored and written as ``metrics.csv`` and
  ``summary.json``;
- :func:`save_examples`: the first mixtures of the sets of :data:`EXAMPLE_SETS`, their sources and
  estimates as wav files (the report's listening page plays them);
- :func:`score_and_save_examples`: both, for any separator (a head or a peer of the report);
- :func:`evaluate`: a trained head's model file scored, its examples and ``masks.png`` (the recipes' ``eval.py``).

Example:
    >>> summarize([{m: 1.0 for m in COLUMNS[2:]}], {}, "model.pth")["si_sdr_imp"]
    0.0
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch
from pytorch_lightning.utilities import rank_zero_only

from .. import masks, recipe_config, tables
from ..atomic import atomic_path
from ..engine.callbacks import GatherRows
from ..engine.scoring import EVAL_METRICS, reorder_to_sources
from ..engine.system import SeparationSystem
from ..model_files import check_compatible
from ..models import MaskSeparator
from ..means import nanmean
from .build import build_test_loader, build_trainer

__all__ = ["COLUMNS", "TEST_SETS", "EXAMPLE_SETS", "predict_rows", "summarize", "test_sets", "score_sets",
           "save_examples", "score_and_save_examples", "plot_masks", "evaluate"]

#: Columns of ``metrics.csv``: the mixture, its length and each metric of the estimates and of the mixture.
COLUMNS = ["mixture_ID", "length", *EVAL_METRICS, *(f"input_{m}" for m in EVAL_METRICS)]
#: Output folder of each test set, by the data section's key of its folder.
TEST_SETS = {"test_dir": "eval", "test_unseen_dir": "eval_unseen", "dev_unseen_dir": "eval_dev_unseen",
             "test_same_dir": "eval_same"}
#: Output folders of the test sets whose first mixtures :func:`save_examples` saves.
EXAMPLE_SETS = ("eval", "eval_unseen", "eval_same")


def predict_rows(model, conf: dict, exp_dir: str | Path) -> list[dict]:
    """Score ``model`` on every test mixture of ``conf``, split across ``conf["trainer"]``'s devices.

    Returns the rows of :meth:`~bssmask.engine.system.SeparationSystem.predict_step`,
    each test mixture once, in the order of the test CSV (on every process).
    """
    loader = build_test_loader(conf)
    gather = GatherRows()
    trainer = build_trainer(conf, exp_dir, extra_callbacks=[gather], predict=True)
    trainer.predict(SeparationSystem(model, None, None, None, config=conf), loader, return_predictions=False)
    order = {mid: i for i, mid in enumerate(loader.dataset.df["mixture_ID"])}
    return sorted(gather.rows, key=lambda r: order[r["mixture_ID"]])


def summarize(rows: list[dict], conf: dict, model_path) -> dict:
    """Means over mixtures (NaN left out) of each metric, its input baseline and improvement."""
    summary = {}
    for metric in EVAL_METRICS:
        summary[metric] = nanmean([r[metric] for r in rows])
        summary[f"input_{metric}"] = nanmean([r[f"input_{metric}"] for r in rows])
        summary[f"{metric}_imp"] = nanmean([r[metric] - r[f"input_{metric}"] for r in rows])
    summary.update(n_mixtures=len(rows), model=str(model_path), config=conf)
    return summary


def test_sets(conf: dict) -> dict[str, dict]:
    """The config of each test set to score (its folder as ``test_dir``), by output folder name."""
    return {out: {**conf, "data": {**conf["data"], "test_dir": conf["data"][key]}}
            for key, out in TEST_SETS.items() if conf["data"][key]}


def score_sets(model, conf: dict, exp_dir: Path, model_path) -> dict[str, dict]:
    """Score ``model`` on each test set of ``conf``; process 0 writes ``<exp_dir>/<set>/{metrics.csv,summary.json}``.

    Every set's files are checked before any is scored. Returns the
    summaries by output folder name (``eval``, ``eval_unseen``, ``eval_dev_unseen``, ``eval_same``).

    Raises:
        ValueError, OSError: a missing or bad test set (nothing written).
    """
    sets = test_sets(conf)
    for set_conf in sets.values():
        build_test_loader(set_conf)  # checks the set's files
    rows = {out: predict_rows(model, set_conf, exp_dir) for out, set_conf in sets.items()}
    summaries = {out: summarize(set_rows, sets[out], model_path) for out, set_rows in rows.items()}
    if rank_zero_only.rank == 0:
        for out, summary in summaries.items():
            tables.write_text(exp_dir / out / "metrics.csv", tables.to_csv(rows[out], COLUMNS))
            tables.write_text(exp_dir / out / "summary.json", tables.to_json(summary))
            shown = "  ".join(f"{m} {summary[m]:.2f} ({summary[m + '_imp']:+.2f})" for m in EVAL_METRICS)
            print(f"{out}: {summary['n_mixtures']} mixtures: {shown}")
    return summaries


def save_examples(model, conf: dict, exp_dir: Path, n_save_ex: int):
    """Write the first ``n_save_ex`` mixtures (-1: all) of each set of :data:`EXAMPLE_SETS`, sources and estimates.

    Each goes to ``<exp_dir>/<set>/examples/<mixture_ID>/``: ``mixture.wav``,
    ``s<k>.wav`` and ``s<k>_estimate.wav`` (32-bit float), the estimates of
    ``model`` (any separator ``[B, T] -> [B, n_src, T]``) matched to the
    sources by PIT on SI-SDR.

    Returns:
        The first test mixture's ``(mixture [1, T], sources [1, n_src, T])``, or None without any.
    """
    rate, first = int(conf["data"]["sample_rate"]), None
    sets = test_sets(conf)
    for out in (out for out in EXAMPLE_SETS if out in sets):
        for index, (mixture, sources, ids) in enumerate(build_test_loader(sets[out])):
            if 0 <= n_save_ex <= index:
                break
            with torch.no_grad():
                estimates = reorder_to_sources(model(mixture), sources)
            wavs = {"mixture": mixture[0], **{f"s{k + 1}": s for k, s in enumerate(sources[0])},
                    **{f"s{k + 1}_estimate": e for k, e in enumerate(estimates[0])}}
            folder = exp_dir / out / "examples" / "_".join(part[0] for part in ids)
            for name, wav in wavs.items():
                with atomic_path(folder / f"{name}.wav") as tmp:
                    sf.write(tmp, wav.numpy(), rate, format="WAV", subtype="FLOAT")
            if out == "eval" and first is None:
                first = mixture, sources
    return first


def score_and_save_examples(model, conf: dict, exp_dir: Path, model_path):
    """:func:`score_sets`, then (process 0) :func:`save_examples` of ``conf["eval"]["n_save_ex"]`` mixtures.

    Returns:
        The first test mixture's ``(mixture, sources)`` on process 0 (None
        without any), None on the other processes.
    """
    score_sets(model, conf, exp_dir, model_path)
    if rank_zero_only.rank != 0:
        return None
    model.eval()
    return save_examples(model, conf, exp_dir, conf["eval"]["n_save_ex"])


def plot_masks(model: MaskSeparator, mixture: torch.Tensor, sources: torch.Tensor, path: Path) -> None:
    """Mixture spectrogram, then the estimated and the oracle mask of each source (magnitude, 0 to 1)."""
    from matplotlib.figure import Figure

    with torch.no_grad():
        outputs = model.forward_masks(mixture)
        est_mask = model.head.to_mask(outputs["mask"])[0]
        oracle = model.head.kind.oracle_tf(model.encoder(sources), outputs["mix_tf"])[0]
    spec = masks.from_asteroid(outputs["mix_tf"][0]).abs()
    n_src = sources.shape[1]

    def magnitude(mask):
        return masks.from_asteroid(mask).abs() if model.head.kind.is_complex else mask

    rate, hop = model.sample_rate, model.hop
    extent = (0, spec.shape[-1] * hop / rate, 0, rate / 2000)
    fig = Figure(figsize=(10, 2.4 * (1 + n_src)))
    axes = fig.subplots(1 + n_src, 2, squeeze=False)
    axes[0, 0].imshow(20 * torch.log10(spec + 1e-6).numpy(), origin="lower", aspect="auto", extent=extent,
                      cmap="magma", vmin=-80, vmax=float(20 * torch.log10(spec.max() + 1e-6)))
    axes[0, 0].set_title("mixture |Y| (dB)")
    axes[0, 1].axis("off")
    for k in range(n_src):
        for col, (name, mask) in enumerate((("estimated", est_mask[k]), ("oracle", oracle[k]))):
            ax = axes[1 + k, col]
            ax.imshow(magnitude(mask).clamp(0, 1).numpy(), origin="lower", aspect="auto", extent=extent,
                      cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"source {k + 1}: {name} {model.mask} mask (|M|)")
    for ax in axes[:, 0]:
        ax.set_ylabel("kHz")
    for ax in axes[-1]:
        ax.set_xlabel("s")
    tables.save_png(fig, path, dpi=100)


def evaluate(conf: dict, exp_dir: str | Path, model_path: str | Path | None = None) -> None:
    """Score a trained head on every test set of ``conf``: :func:`score_and_save_examples`, then ``eval/masks.png``.

    ``model_path`` (default ``<exp_dir>/best_model.pth``) is a
    ``MaskSeparator.serialize()`` file; ``masks.png`` is the first example's
    mixture spectrogram with its estimated and oracle masks (:func:`plot_masks`).

    Raises:
        ConfigError: a section of the config is missing.
        ValueError, OSError: a missing or bad model file or test set (nothing written).
    """
    exp_dir = Path(exp_dir)
    model_path = Path(model_path) if model_path else exp_dir / "best_model.pth"
    recipe_config.require(conf, "data", "trainer", "training", "eval")
    model = MaskSeparator.from_pretrained(str(model_path))
    check_compatible(model, conf["data"]["sample_rate"], conf["data"]["n_src"], str(model_path))
    first = score_and_save_examples(model, conf, exp_dir, model_path)
    if first is not None:
        plot_masks(model, *first, exp_dir / "eval" / "masks.png")
