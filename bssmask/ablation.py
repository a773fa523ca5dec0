"""The oracle mask ablation: what frequency down/upsampling costs each mask.

For a mixture ``Y`` of sources ``S_i`` (STFT with Asteroid's ``torch_stft``
filterbank and a Hann window by default, :data:`bssmask.stft.WINDOWS`), each
mask kind (a spec with its options, e.g. ``"cirm:max=1"``) is scored

- at full resolution (``upsampled="none"``): ``M = oracle(S, Y)``, estimate ``M * Y``;
- with the mask upsampled (``"mask"``): the oracle of the downsampled
  spectrograms, ``M_low = oracle(down(S), down(Y))`` (what a model working at
  ``F / factor`` bins would be trained to predict), upsampled and applied to
  the full-resolution mixture: ``up(M_low) * Y``;
- with the masked spectrogram upsampled (``"spectrogram"``): ``up(M_low * down(Y))``.

Estimates are turned back into waveforms and scored against the sources at
their original level (SDR/SIR/SAR, SI-SDR, L1; means over sources and, for
several mixtures, over mixtures with the half-width of their 95% confidence
interval in ``<metric>_ci``). Real masks are interpolated as real values,
so their ``mask`` rows have no space (``None``).

Example:
    >>> from bssmask.data import DEFAULT_SOURCES
    >>> from bssmask.audio import load_sources
    >>> sources, rate, _ = load_sources(DEFAULT_SOURCES)
    >>> config = AblationConfig(masks=("cirm",), methods=("nearest",), spaces=("cartesian",))
    >>> rows = score_mixture(sources[:, :16000], config)
    >>> [(r["upsampled"], round(r["sdr"]) > 90) for r in rows][0]
    ('none', True)
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from . import freq_resample, masks
from .ablation_options import MIX_MODES, UPSAMPLED, AblationConfig, sort_metric
from .audio import AudioError
from .metrics import METRICS, separation_metrics
from .means import mean_ci, nanmean
from .stft import make_stft, synthesize

__all__ = ["AblationConfig", "MIX_MODES", "UPSAMPLED", "grid", "estimate_key", "spectra", "estimate_grid", "mixture_of", "check_mixture_rule", "check_independent",
           "score_mixture", "mean_rows", "sort_rows", "config_dict", "ResultsTable", "results_table",
           "write_results"]

ROW_KEYS = ("mask", "upsampled", "mode", "space")
#: Grid rows inverted by one inverse STFT call (batched, in a buffer reused).
CHUNK_ROWS = 8


def grid(config: AblationConfig) -> list[dict]:
    """The rows of the ablation, without scores: ``mask, upsampled, mode, space``."""
    rows = []
    for name in config.masks:
        rows.append(dict(mask=name, upsampled="none", mode=None, space=None))
        for upsampled in config.upsampled:
            real_mask = upsampled == "mask" and not masks.get(name).is_complex
            for mode in config.methods:
                for space in (None,) if real_mask else config.spaces:
                    rows.append(dict(mask=name, upsampled=upsampled, mode=mode, space=space))
    return rows


def estimate_key(row: dict, config: AblationConfig) -> tuple:
    """What a row's estimate depends on: rows with one key have the same estimate.

    Nearest-neighbour upsampling copies bins, and so do the ``keep`` and
    ``nearest`` downsamplings, so their rows are the same in every space
    (:mod:`bssmask.freq_resample` copies complex values as they are).

    Example:
        >>> config = AblationConfig()
        >>> [estimate_key(r, config) for r in grid(config) if r["mask"] == "cirm" and r["mode"] == "nearest"][:3]
        [('cirm', 'mask', 'nearest', None), ('cirm', 'mask', 'nearest', None), ('cirm', 'mask', 'nearest', None)]
    """
    copies_bins = row["mode"] == "nearest" and config.down_method in ("keep", "nearest")
    return row["mask"], row["upsampled"], row["mode"], None if copies_bins else row["space"]


def _estimates(rows: list[dict], config: AblationConfig, S: torch.Tensor, Y: torch.Tensor):
    """Complex estimates ``[n_src, F, T']`` of the grid ``rows`` from ``S [n_src, F, T']`` and ``Y [F, T']``, in order.

    What rows share is computed once: the downsampled spectrograms of each
    space, each mask kind's low-resolution oracle (and masked mixture) in
    each space, and its upsampling by every method
    (:func:`bssmask.freq_resample.upsample_each`), kept while the rows of one mask
    and one ``upsampled`` value last (:func:`grid` gives them together).
    """
    n_freq = Y.shape[-2]
    low, oracles, upsampled, group = {}, {}, {}, None
    for row in rows:
        kind = masks.get(row["mask"])
        if (row["mask"], row["upsampled"]) != group:
            group, upsampled = (row["mask"], row["upsampled"]), {}
        if row["upsampled"] == "none":
            yield kind.apply(kind.oracle(S, Y), Y)
            continue
        space = row["space"] or "cartesian"
        if space not in low:
            low[space] = tuple(freq_resample.downsample(x, config.factor, config.down_method, space) for x in (S, Y))
        S_low, Y_low = low[space]
        key = (row["mask"], space)
        if key not in oracles:
            oracles[key] = kind.oracle(S_low, Y_low)
        is_mask = row["upsampled"] == "mask"
        if space not in upsampled:
            low_res = oracles[key] if is_mask else kind.apply(oracles[key], Y_low)
            upsampled[space] = freq_resample.upsample_each(low_res, n_freq, config.methods, space)
        full = upsampled[space][row["mode"]]
        yield kind.apply(full, Y) if is_mask else full


def mixture_of(sources: torch.Tensor, mix: str, mixture: torch.Tensor | None = None) -> torch.Tensor:
    """The mixture ``[T]`` of ``sources [n_src, T]`` by rule ``mix`` (:data:`MIX_MODES`).

    ``"sum"`` and ``"mean"`` compute it; ``"file"`` returns ``mixture``, which it requires.

    Example:
        >>> mixture_of(torch.tensor([[1.0, 2.0], [3.0, 0.0]]), "mean")
        tensor([2., 1.])
    """
    if mix == "file":
        if mixture is None:
            raise ValueError("mix 'file' needs the mixture itself (a --dataset CSV's mixture_path)")
        return mixture
    return sources.sum(0) if mix == "sum" else sources.mean(0)


#: A mixture file matches a mixing rule when it differs from the rule's mixture by at most -30 dB.
RULE_TOLERANCE_DB = -30.0


def _distance_db(mixture: torch.Tensor, reference: torch.Tensor) -> float:
    """``10 log10(|mixture - reference|^2 / |reference|^2)``: how far a mixture file is from a rule's mixture."""
    error = (mixture - reference).double().pow(2).sum()
    energy = reference.double().pow(2).sum()
    if error == 0:
        return -math.inf
    return math.inf if energy == 0 else 10 * math.log10(error / energy)


def check_mixture_rule(sources: torch.Tensor, mixture: torch.Tensor, mix: str, path: Path) -> None:
    """Refuse a mixture file that is neither the sum nor the mean of its ``sources`` (within :data:`RULE_TOLERANCE_DB`).

    A file made by either rule is a clean mixture of these sources, and
    ``mix`` then says which rule the ablation mixes them by (a LibriMix sum
    can be studied as a mean); any other file (noise, music, other sources)
    is scored only with ``--mix file``.

    Raises:
        AudioError: one line naming the file and how far it is from the ``mix`` rule.
    """
    if any(_distance_db(mixture, mixture_of(sources, rule)) <= RULE_TOLERANCE_DB for rule in ("sum", "mean")):
        return
    distance = _distance_db(mixture, mixture_of(sources, mix))
    raise AudioError(f"{path}: the mixture file is not the {mix} of its sources ({distance:.1f} dB from it, "
                     f"more than {RULE_TOLERANCE_DB:g} dB), nor their {'mean' if mix == 'sum' else 'sum'}; "
                     "pass --mix file to score the file itself (a mixture with noise, say)")


def spectra(sources: torch.Tensor, mixture: torch.Tensor, encoder) -> tuple[torch.Tensor, torch.Tensor]:
    """Complex STFTs of ``sources [n_src, T]`` and ``mixture [T]`` by an Asteroid ``encoder``: ``[n_src, F, T']``, ``[F, T']``."""
    both = masks.from_asteroid(encoder(torch.cat([sources, mixture[None]])[None]))[0]
    return both[:-1], both[-1]


def estimate_grid(sources: torch.Tensor, config: AblationConfig,
                  mixture: torch.Tensor | None = None) -> tuple[list[dict], torch.Tensor, list[int]]:
    """Waveform estimates of every grid row on one mixture, each distinct estimate computed once.

    Args:
        sources: ``[n_src, T]`` waveforms at their original level.
        config: the grid.
        mixture: ``[T]``, the mixture when ``config.mix == "file"``.

    Returns:
        ``(rows, estimates, index)``: the :func:`grid` rows, the distinct
        estimates ``[n_distinct, n_src, T]`` (on ``config.device``; rows
        with one :func:`estimate_key` share one) and, for each row, the
        number of its estimate: ``estimates[index]`` is ``[len(rows), n_src, T]``.
    """
    encoder, decoder = (m.to(config.device) for m in make_stft(config.n_fft, config.hop, window=config.window))
    sources = sources.to(config.device)
    mixture = mixture_of(sources, config.mix, None if mixture is None else mixture.to(config.device))
    with torch.no_grad():
        S, Y = spectra(sources, mixture, encoder)
        rows = grid(config)
        keys = [estimate_key(row, config) for row in rows]
        distinct = {}  # the first row of each key, in grid order
        for key, row in zip(keys, rows):
            distinct.setdefault(key, row)
        est = sources.new_empty(len(distinct), *sources.shape)
        chunk = Y.new_empty(CHUNK_ROWS, *S.shape)
        spectrograms = _estimates(list(distinct.values()), config, S, Y)
        for first in range(0, len(distinct), CHUNK_ROWS):
            n_rows = min(CHUNK_ROWS, len(distinct) - first)
            for k in range(n_rows):
                chunk[k] = next(spectrograms)
            est[first : first + n_rows] = synthesize(decoder, chunk[:n_rows], sources.shape[-1])
        number = {key: k for k, key in enumerate(distinct)}
        return rows, est, [number[key] for key in keys]


def check_independent(sources: torch.Tensor, tolerance: float = 1e-6) -> None:
    """Raise ``ValueError`` when the non-silent sources ``[n_src, T]`` are linearly dependent.

    BSS-Eval separates an estimate into projections on the references; for
    the same signal twice, or scaled copies, that split is undefined. Sources
    count as dependent when the smallest eigenvalue of their correlation
    matrix is below ``tolerance`` (two different speech signals: above 0.5).
    Silent sources are left out (their metrics are undefined, NaN, by rule).
    """
    sources = sources.detach().to(torch.float64).cpu()
    energy = (sources**2).sum(-1)
    active = sources[energy > 0]
    if active.shape[0] < 2:
        return
    unit = active / active.norm(dim=-1, keepdim=True)
    if torch.linalg.eigvalsh(unit @ unit.T)[0] < tolerance:
        raise ValueError("the sources are linearly dependent (the same signal twice, or scaled copies): "
                         "BSS-Eval is undefined for them")


def score_mixture(sources: torch.Tensor, config: AblationConfig, mixture: torch.Tensor | None = None) -> list[dict]:
    """Score every grid row on one mixture (``sources [n_src, T]`` at their original level;
    ``mixture [T]`` when ``config.mix == "file"``).

    Raises ``ValueError`` for linearly dependent sources (:func:`check_independent`).

    Returns:
        One dict per :func:`grid` row with the metrics of ``config.metrics``
        added (means over sources; NaN where undefined for every source).
    """
    check_independent(sources)
    rows, est, index = estimate_grid(sources, config, mixture)
    scores = separation_metrics(sources, est, config.metrics)  # on est's device, each distinct estimate once
    for row, k in zip(rows, index):
        for metric in config.metrics:
            row[metric] = nanmean(scores[metric][k].tolist())
    return rows


def mean_rows(per_mixture: list[list[dict]], keys=ROW_KEYS, metrics=METRICS) -> list[dict]:
    """Average the rows of several mixtures, leaving undefined (NaN) values out.

    With two or more mixtures each metric ``m`` gets ``m_ci``, the half-width
    of the 95% Student-t confidence interval of its mean
    (:func:`bssmask.means.mean_ci`).
    """
    means = []
    for group in zip(*per_mixture):
        row = {k: group[0][k] for k in keys}
        for metric in metrics:
            row[metric], half_width = mean_ci([r[metric] for r in group])
            if len(per_mixture) > 1:
                row[f"{metric}_ci"] = half_width
        means.append(row)
    return means


def sort_rows(rows: list[dict], metric: str = "sdr") -> list[dict]:
    """Rows by ``metric``, best first (highest dB, lowest L1); undefined values last."""
    sign = 1 if metric == "l1" else -1
    return sorted(rows, key=lambda r: (math.isnan(r[metric]), sign * r[metric] if not math.isnan(r[metric]) else 0))


def config_dict(config: AblationConfig, **extra) -> dict:
    """The config as plain JSON values, with ``extra`` entries (sample rate, sources ...)."""
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    out["n_freq"] = config.n_fft // 2 + 1
    out.update(extra)
    return out


COLUMNS = {
    "mask": None, "upsampled": None, "mode": None, "space": None,
    "sdr": ".2f", "si_sdr": ".2f", "sir": ".2f", "sar": ".2f", "l1": ".2e",
}


@dataclasses.dataclass(frozen=True)
class ResultsTable:
    """The results table of a run, as :func:`write_results` writes it and the listening page shows it.

    Attributes:
        rows: mean rows, best first (:func:`sort_rows` on :attr:`metric`).
        metric: the metric the rows are sorted by.
        columns: column name -> format (None: as is), spread columns ``<metric>_ci`` for several mixtures.
        ceilings: metric -> the value above which the table prints ``> ceiling``.
        preamble: the lines above the table: the run's set-up and how to read it.
    """

    rows: list[dict]
    metric: str
    columns: dict
    ceilings: dict
    preamble: str


def results_table(rows: list[dict], meta: dict, n_mixtures: int) -> ResultsTable:
    """The table of mean ``rows`` of a run of ``n_mixtures`` mixtures configured by ``meta`` (:func:`config_dict`)."""
    from . import tables

    metrics = [m for m in METRICS if m in meta["metrics"]]
    key = sort_metric(metrics)
    label = key.upper().replace("_", "-")
    preamble = (
        f"Oracle mask ablation: factor {meta['factor']} ({meta['down_method']} down), "
        f"n_fft {meta['n_fft']}, hop {meta['hop']}, {meta['window']} window, mix = {meta['mix']} of the sources, "
        f"{n_mixtures} mixture{'s' if n_mixtures > 1 else ''}"
        f"{' (means over mixtures ± half-width of their 95% confidence interval)' if n_mixtures > 1 else ''}. "
        f"Sorted by {label}{'' if key == 'l1' else ' (dB)'}.\n"
        "upsampled none = full-resolution oracle; space - = real mask interpolated as is; "
        f"n/a = undefined (silent reference); > {tables.DB_CEILING:g} = above {tables.DB_CEILING:g} dB "
        "(float precision; exact values in the CSV and JSON).\n\n"
    )
    columns = {k: v for k, v in COLUMNS.items() if k in ROW_KEYS or k in metrics}
    if n_mixtures > 1:
        columns.update({f"{m}_ci": COLUMNS[m] for m in metrics})
    ceilings = {metric: tables.DB_CEILING for metric in metrics if metric != "l1"}
    return ResultsTable(sort_rows(rows, key), key, columns, ceilings, preamble)


def write_results(out_dir, rows: list[dict], meta: dict, per_mixture: dict[str, list[dict]]) -> str:
    """Write ``ablation.{csv,md,json,png}`` (and ``ablation_per_mixture.csv`` for several mixtures).

    Args:
        out_dir: output folder (created).
        rows: mean rows, any order (written sorted by SDR, or by the first metric scored without SDR).
        meta: the config dict stored under ``"config"`` in the JSON (:func:`config_dict`; its
            ``"metrics"`` are the columns written).
        per_mixture: rows of each mixture by mixture id.

    Returns:
        The Markdown table (``mean ± 95% half-width`` for several mixtures): :func:`results_table`.
    """
    from . import tables

    out_dir = Path(out_dir)
    n_mix = len(per_mixture)
    table = results_table(rows, meta, n_mix)
    if n_mix > 1:
        flat = [dict(mixture_id=mid, **r) for mid, mrows in per_mixture.items() for r in mrows]
        row_columns = [k for k in table.columns if not k.endswith("_ci")]
        tables.write_text(out_dir / "ablation_per_mixture.csv", tables.to_csv(flat, ["mixture_id", *row_columns]))
    label = table.metric.upper().replace("_", "-")
    tables.bar_plot(
        table.rows, ["mask", "upsampled", "mode", "space"], table.metric, out_dir / "ablation.png",
        title=f"Oracle {label} after frequency down/upsampling by {meta['factor']} ({meta['window']} window)"
              + (f", 95% intervals over {n_mix} mixtures" if n_mix > 1 else ""),
        color_key="mask", spread_suffix="_ci" if n_mix > 1 else None,
    )
    paths = tables.write_table(out_dir, "ablation", table.rows, table.columns, meta, table.preamble, table.ceilings,
                               spread_suffix="_ci")
    return paths["md"].read_text()
