"""Stage 2: score the trained separator on every mixture of each test set.

The test sets are the config's ``test_dir`` (written to ``<exp_dir>/eval/``),
``test_unseen_dir`` (held-out voices, ``<exp_dir>/eval_unseen/``) and
``dev_unseen_dir`` (the held-out validation voice that remedies are chosen on,
``<exp_dir>/eval_dev_unseen/``), ``test_same_dir`` (two utterances of one voice,
``<exp_dir>/eval_same/``);
an empty folder name skips that set. Every set's files are checked before
any is scored (:func:`bssmask.recipe.evaluate.score_sets`). Writes to ``<exp_dir>/eval/`` (the other folders hold
``metrics.csv`` and ``summary.json`` of the same shape):

- ``metrics.csv``: one row per test mixture: SDR, SI-SDR, SIR, SAR (dB),
  PESQ, STOI of the estimates (means over sources, estimates matched to
  sources by PIT on SI-SDR) and the same of the mixture (``input_*``);
- ``summary.json``: the means (``sdr``, ``si_sdr``, ``sir``, ``sar``,
  ``pesq``, ``stoi``), those of the mixture (``input_*``), the mean
  improvements (``*_imp``), the number of mixtures, the config and the model file;
- ``examples/<mixture_ID>/``: mixture, sources and estimates of the first
  ``n_save_ex`` test mixtures as wav files (also in ``eval_unseen/`` and ``eval_same/``,
  :func:`bssmask.recipe.evaluate.save_examples`), which the report's listening page plays;
- ``masks.png``: the first example's mixture spectrogram with its estimated
  and oracle masks.

With several devices (``--devices 2``) the test set is split across the
processes and the rows gathered, each mixture once; process 0 writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bssmask  # noqa: F401  (before Lightning: bssmask.compat quiets the warning its import prints)
import torch
from pytorch_lightning.utilities import rank_zero_only

from bssmask import config, masks, tables
from bssmask.errors import entry_point
from bssmask.io import check_compatible
from bssmask.models import MaskSeparator
from bssmask.recipe.evaluate import save_examples, score_sets


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp_dir", required=True, help="experiment folder (exp/<tag>)")
    parser.add_argument("--model", default=None, help="model file (default <exp_dir>/best_model.pth)")


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


@entry_point("eval.py")
def main(argv=None) -> int:
    conf, args = config.parse_args(argv, __doc__.splitlines()[0], add_options)
    exp_dir = Path(args.exp_dir)
    model_path = Path(args.model) if args.model else exp_dir / "best_model.pth"
    config.require(conf, "data", "trainer", "training", "eval")
    model = MaskSeparator.from_pretrained(str(model_path))
    check_compatible(model, conf["data"]["sample_rate"], conf["data"]["n_src"], str(model_path))
    score_sets(model, conf, exp_dir, model_path)
    if rank_zero_only.rank != 0:
        return 0
    model.eval()
    first = save_examples(model, conf, exp_dir, conf["eval"]["n_save_ex"])
    if first is not None:
        plot_masks(model, *first, exp_dir / "eval" / "masks.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
