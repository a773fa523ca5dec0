"""Result tables people compare: Markdown, CSV, strict JSON and a bar plot.

Rows are flat dicts. Undefined metrics are float NaN in memory, empty cells in
CSV, ``null`` in JSON and ``n/a`` in Markdown. Values above a column's
stated ceiling (:data:`DB_CEILING` for decibel scores) are shown as ``> 100``
in Markdown: beyond it a score measures float rounding, which changes from
run to run; CSV and JSON keep the exact values. Every file is written
atomically (:mod:`bssmask.atomic`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from .atomic import atomic_path, write_text

#: Decibel scores above this are float-precision artifacts (an exact oracle):
#: Markdown tables print them as ``> 100``.
DB_CEILING = 100.0


def _is_undefined(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def jsonable(value):
    """``value`` with non-finite floats replaced by ``None`` (recursively)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return None if _is_undefined(value) else value


def to_json(obj) -> str:
    """Strict JSON (no NaN/Infinity tokens)."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"


def to_csv(rows: list[dict], columns: list[str]) -> str:
    """CSV text with ``columns``; ``None`` and NaN become empty cells."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None or _is_undefined(row.get(k)) else row.get(k) for k in columns})
    return buf.getvalue()


def _cell(value, fmt: str | None, ceiling: float | None = None) -> str:
    if value is None:
        return "-"
    if _is_undefined(value):
        return "n/a"
    if ceiling is not None and isinstance(value, (int, float)) and value > ceiling:
        return f"> {ceiling:g}"
    return format(value, fmt) if fmt and isinstance(value, (int, float)) else str(value)


def spread_columns(columns, spread_suffix: str | None) -> dict[str, str]:
    """``{column: its spread column}`` for the ``columns`` whose ``column + spread_suffix`` is also listed.

    Example:
        >>> spread_columns(["sdr", "sdr_ci", "l1"], "_ci")
        {'sdr': 'sdr_ci'}
    """
    return {k: k + spread_suffix for k in columns if spread_suffix and k + spread_suffix in columns}


def cell(row: dict, key: str, fmt: str | None, ceiling: float | None = None, spread_key: str | None = None) -> str:
    """The text of ``row[key]`` in a table: ``-`` for None, ``n/a`` undefined, ``> ceiling``, or
    ``value ± spread`` with the value of ``spread_key`` (both formatted by ``fmt``).

    Example:
        >>> cell({"sdr": 12.625, "sdr_ci": 0.4}, "sdr", ".2f", 100.0, "sdr_ci")
        '12.62 ± 0.40'
    """
    text = _cell(row.get(key), fmt, ceiling)
    spread = row.get(spread_key) if spread_key else None
    if spread is None or _is_undefined(spread) or text in ("-", "n/a") or text.startswith(">"):
        return text
    return f"{text} ± {_cell(spread, fmt)}"


def to_markdown(rows: list[dict], columns: dict[str, str | None], ceilings: dict[str, float] | None = None,
                spread_suffix: str | None = None) -> str:
    """Markdown table; ``columns`` maps each key to a format spec (``".2f"``) or None.

    ``ceilings`` maps keys to a ceiling: values above it are printed ``> ceiling``.
    With ``spread_suffix`` (e.g. ``"_ci"``), a column ``k`` whose spread column
    ``k + spread_suffix`` is also listed is shown as ``value ± spread`` and the
    spread column gets no column of its own.

    Example:
        >>> print(to_markdown([{"mask": "cirm", "sdr": 129.75}, {"mask": "ibm", "sdr": 12.62, "sdr_ci": 0.4}],
        ...                   {"mask": None, "sdr": ".2f", "sdr_ci": ".2f"}, ceilings={"sdr": DB_CEILING},
        ...                   spread_suffix="_ci"), end="")
        | mask | sdr |
        | --- | --- |
        | cirm | > 100 |
        | ibm | 12.62 ± 0.40 |
    """
    ceilings = ceilings or {}
    spreads = spread_columns(columns, spread_suffix)
    shown = [k for k in columns if k not in spreads.values()]
    header = "| " + " | ".join(shown) + " |"
    rule = "| " + " | ".join("---" for _ in shown) + " |"
    body = ["| " + " | ".join(cell(row, k, columns[k], ceilings.get(k), spreads.get(k)) for k in shown) + " |"
            for row in rows]
    return "\n".join([header, rule, *body]) + "\n"


def bar_plot(rows: list[dict], label_keys: list[str], metric: str | dict[str, str], path: str | Path, title: str,
             color_key: str | None = None, spread_suffix: str | None = None, axis_label: str | None = None,
             cut_outliers: bool = True) -> None:
    """Horizontal bars of ``metric``, one per row in the given order, saved as PNG.

    Args:
        rows: the table's rows; each bar is labelled with the values of ``label_keys`` and its own value
            (``n/a`` where undefined, drawn as 0).
        metric: a key of the rows, or ``{key: legend label}`` for grouped bars: one bar per key in each
            row, side by side, colored by key.
        color_key: with one metric, color the bars by this key's value (with a legend).
        spread_suffix: draw ``row[key + spread_suffix]`` as an error bar (half-width) on the bar of
            ``key`` (e.g. ``"_ci"``, ``"_std"``), as :func:`to_markdown` shows it.
        axis_label: the value axis's label (default: the metric, in dB for SDR, SIR and SAR).
        cut_outliers: cut the axis above the runner-up when the largest value is more than twice it
            (an exact oracle at 130 dB would flatten every other bar), labelling the clipped bars.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    metrics = metric if isinstance(metric, dict) else {metric: None}
    labels = [" / ".join(str(r[k]) for k in label_keys if r.get(k) is not None) for r in rows]
    values = {key: [0.0 if r.get(key) is None or _is_undefined(r[key]) else r[key] for r in rows] for key in metrics}
    by_group = color_key is not None and len(metrics) == 1
    groups = sorted({r.get(color_key) for r in rows}, key=str) if by_group else [None]
    palette = colormaps["tab10"]
    ordered = sorted((v for column in values.values() for v in column), reverse=True)
    xmax = None
    if cut_outliers and len(ordered) > 1 and ordered[1] > 0 and ordered[0] > 2 * ordered[1]:
        xmax = 1.3 * ordered[1]
    height = 0.8 / len(metrics)
    fig = Figure(figsize=(8, 0.28 * len(rows) * len(metrics) + 1.2))
    ax = fig.subplots()
    for j, (key, legend) in enumerate(metrics.items()):
        where = [i + (j - (len(metrics) - 1) / 2) * height for i in range(len(rows))]
        shown = [min(v, xmax) if xmax else v for v in values[key]]
        colors = [palette(groups.index(r.get(color_key)) % 10) if by_group else palette(j % 10) for r in rows]
        errors = None
        if spread_suffix:
            spread = key + spread_suffix
            errors = [0.0 if r.get(spread) is None or _is_undefined(r[spread]) or x < v else r[spread]
                      for r, v, x in zip(rows, values[key], shown)]
        ax.barh(where, shown, height=height, color=colors, xerr=errors, error_kw=dict(lw=0.8, capsize=2),
                label=legend)
        for y, v, x, r in zip(where, values[key], shown, rows):
            text = "n/a" if r.get(key) is None or _is_undefined(r[key]) else f"{v:.2f}"
            ax.text(x, y, f" {text}{' (axis cut)' if x < v else ''}", va="center", fontsize=7)
    if xmax:
        ax.set_xlim(right=xmax * 1.12)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    name = next(iter(metrics))
    ax.set_xlabel(axis_label or (f"{name} (dB)" if "sdr" in name or name in ("sir", "sar") else name))
    ax.set_title(title, fontsize=10)
    if len(metrics) > 1:
        ax.legend(fontsize=8)
    elif by_group:
        handles = [Rectangle((0, 0), 1, 1, color=palette(i % 10)) for i in range(len(groups))]
        ax.legend(handles, [str(g) for g in groups], fontsize=8, loc="lower right")
    save_png(fig, path)


def save_png(fig, path: str | Path, dpi: int = 110, colors: int | None = None) -> None:
    """Lay out a matplotlib ``Figure`` and write it as PNG atomically (Agg; pyplot is never imported).

    With ``colors`` the image is quantized to a palette of that many colors (Pillow's median cut):
    a third of the size for noisy images such as masks.
    """
    fig.tight_layout()
    with atomic_path(path) as tmp:
        if colors is None:
            fig.savefig(tmp, format="png", dpi=dpi)
            return
        from PIL import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        Image.open(buffer).convert("RGB").quantize(colors).save(tmp, format="PNG", optimize=True)


def write_table(out_dir: str | Path, stem: str, rows: list[dict], columns: dict[str, str | None],
                meta: dict, markdown_preamble: str = "", ceilings: dict[str, float] | None = None,
                spread_suffix: str | None = None) -> dict[str, Path]:
    """Write ``stem.csv``, ``stem.md`` and ``stem.json`` (``{"config": meta, "rows": rows}``).

    ``ceilings`` and ``spread_suffix`` apply to the Markdown table only
    (:func:`to_markdown`). Returns the written paths by suffix. The JSON is
    written last.
    """
    out_dir = Path(out_dir)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("csv", "md", "json")}
    write_text(paths["csv"], to_csv(rows, list(columns)))
    write_text(paths["md"], markdown_preamble + to_markdown(rows, columns, ceilings, spread_suffix))
    write_text(paths["json"], to_json({"config": meta, "rows": rows}))
    return paths
