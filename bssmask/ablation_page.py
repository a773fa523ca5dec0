"""The listening page of ``bssmask ablate --html``: the ablation's scores, estimates and masks, heard and seen.

The page (:mod:`bssmask.listening`: one folder that opens from disk) shows the
results table, then, for each example mixture, players for the mixture, the
true sources and every grid row's estimates, the mixture's spectrogram and,
per mask kind, the oracle mask at full resolution and after the frequency
round trip.

Example:
    >>> import tempfile
    >>> from bssmask.audio import load_sources
    >>> from bssmask.data import DEFAULT_SOURCES
    >>> config = AblationConfig(masks=("ibm",), methods=("nearest",), spaces=("cartesian",), metrics=("sdr",))
    >>> sources = load_sources(DEFAULT_SOURCES)[0][:, :8000]
    >>> rows = ablation.score_mixture(sources, config)
    >>> meta = ablation.config_dict(config, sample_rate=8000, n_mixtures=1)
    >>> out = Path(tempfile.mkdtemp())
    >>> ablation_page(out, config, meta, [("clip", sources, None)], rows, {"clip": rows}).name
    'index.html'
"""

from __future__ import annotations

import html
from pathlib import Path

import torch

from . import ablation, freq_resample, masks
from .ablation_options import AblationConfig
from .listening import Assets, gain, player, table, tf_figure, write_page
from .stft import make_stft

__all__ = ["ablation_page"]


def ablation_page(out_dir: str | Path, config: AblationConfig, meta: dict, examples: list[tuple],
                  rows: list[dict], per_mixture: dict[str, list[dict]]) -> Path:
    """Write the listening page of ``bssmask ablate --html`` into ``out_dir`` (beside ``ablation.png``).

    Args:
        config: the run's configuration.
        meta: its :func:`~bssmask.ablation.config_dict` (sample rate, number of mixtures).
        examples: ``(mixture id, sources [n_src, T], mixture [T] or None)`` of the mixtures to play.
        rows: the mean rows, any order (shown as :func:`~bssmask.ablation.results_table` orders them).
        per_mixture: each mixture's rows in grid order, by mixture id.

    For each example the page plays the mixture, the sources and every grid row's
    estimates (rows with one :func:`~bssmask.ablation.estimate_key` share a file)
    and shows the mixture's spectrogram and, per mask kind, the oracle mask at
    full resolution and after the F/factor round trip (the first method and
    space of the grid).
    """
    rate, method, space = meta["sample_rate"], config.methods[0], config.spaces[0]
    encoder, _ = make_stft(config.n_fft, config.hop, window=config.window)
    results = ablation.results_table(rows, meta, meta["n_mixtures"])
    columns, ceilings = results.columns, results.ceilings
    body = [f"<p>{html.escape(line)}</p>" for line in results.preamble.splitlines() if line]
    body.append(table(results.rows, columns, "Scores, best first (click a column's title to sort by it)", ceilings,
                      "_ci"))
    body.append('<figure><img src="ablation.png" alt="Bar plot of the scores above"></figure>')
    with Assets.folder(out_dir) as assets:
        for number, (mixture_id, sources, mixture) in enumerate(examples, 1):
            grid_rows, est, index = ablation.estimate_grid(sources, config, mixture)
            mix = ablation.mixture_of(sources, config.mix, mixture)
            level, name = gain(mix, sources, est.cpu()), f"mixture{number}"
            body.append(f"<h2>Mixture {number}: {html.escape(mixture_id)}</h2>")
            body.append(player(assets.audio(f"{name}/mixture", mix, rate, level), f"mixture {mixture_id}"))
            body += [player(assets.audio(f"{name}/s{i + 1}", s, rate, level), f"source {i + 1} (true)")
                     for i, s in enumerate(sources)]
            with_grid = {}
            for k, i in sorted({(k, i) for k in index for i in range(len(sources))}):
                with_grid[k, i] = assets.audio(f"{name}/estimate{k}_s{i + 1}", est[k, i].cpu(), rate, level)
            labels = [" / ".join(str(row[key]) for key in ablation.ROW_KEYS if row[key]) for row in grid_rows]
            media = {f"source {i + 1} estimate": [
                player(with_grid[k, i], f"{label}: source {i + 1} estimate", caption=False)
                for label, k in zip(labels, index)] for i in range(len(sources))}
            body.append(table(per_mixture[mixture_id], columns, f"Estimates of mixture {number}, in grid order",
                              ceilings, media=media))
            with torch.no_grad():
                S, Y = ablation.spectra(sources, mix, encoder)
            body.append(assets.image(f"{name}/spectrogram", tf_figure([("mixture |Y| (dB)", Y.numpy())], rate,
                                                                      config.hop, "db"),
                                     f"Spectrogram of mixture {number} (dB, 0 to {rate / 2000:g} kHz)"))
            for j, spec in enumerate(config.masks):
                kind = masks.get(spec)
                in_space = space if kind.is_complex else "cartesian"
                low = kind.oracle(*(freq_resample.downsample(x, config.factor, config.down_method, in_space)
                                    for x in (S, Y)))
                trip = freq_resample.upsample(low, Y.shape[-2], method, in_space)
                shown = space if kind.is_complex else "-"
                panels = [(f"source {i + 1}: {title}", m[i].numpy()) for i in range(len(sources))
                          for title, m in (("full resolution", kind.oracle(S, Y)),
                                           (f"F/{config.factor} and back ({method}, {shown})", trip))]
                body.append(assets.image(f"{name}/mask{j + 1}", tf_figure(panels, rate, config.hop, "mask"),
                                         f"Oracle {spec} mask |M| of each source of mixture {number}, 0 to 1: "
                                         f"at full resolution and after downsampling by {config.factor} "
                                         f"({config.down_method}) and upsampling ({method}, space {shown})"))
    facts = {"window": config.window, "factor": f"{config.factor} (downsampling: {config.down_method})",
             "upsampling methods": ", ".join(config.methods), "spaces": ", ".join(config.spaces),
             "masks": ", ".join(config.masks), "STFT": f"n_fft {config.n_fft}, hop {config.hop}",
             "sample rate": f"{rate} Hz", "mixture": f"{config.mix} of the sources",
             "mixtures scored": str(meta["n_mixtures"]), "mixtures played": str(len(examples))}
    return write_page(out_dir, "Oracle mask ablation: listening page", facts, "\n".join(body))
