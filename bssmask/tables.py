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
    spreads = {k: k + spread_suffix for k in columns if spread_suffix and k + spread_suffix in columns}
    shown = [k for k in columns if k not in spreads.values()]

    def cell(row, key):
        text = _cell(row.get(key), columns[key], ceilings.get(key))
        spread = row.get(spreads.get(key))
        if spread is None or _is_undefined(spread) or text in ("-", "n/a") or text.startswith(">"):
            return text
        return f"{text} ± {_cell(spread, columns[key])}"

    header = "| " + " | ".join(shown) + " |"
    rule = "| " + " | ".join("---" for _ in shown) + " |"
    body = ["| " + " | ".join(cell(row, k) for k in shown) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"


def bar_plot(rows: list[dict], label_keys: list[str], metric: str, path: str | Path, title: str,
             color_key: str | None = None, error_key: str | None = None) -> None:
    """Horizontal bars of ``metric``, one per row in the given order, saved as PNG.

    ``error_key`` names the half-width of an error bar drawn on each bar (e.g. ``"sdr_ci"``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [" / ".join(str(r[k]) for k in label_keys if r.get(k) is not None) for r in rows]
    values = [0.0 if r[metric] is None or _is_undefined(r[metric]) else r[metric] for r in rows]
    groups = sorted({r.get(color_key) for r in rows}, key=str) if color_key else [None]
    palette = plt.get_cmap("tab10")
    colors = [palette(groups.index(r.get(color_key)) % 10) if color_key else palette(0) for r in rows]
    # A lone outlier (an exact oracle at 130 dB, say) would flatten every other
    # bar: cut the axis above the runner-up and label the clipped bars.
    ordered = sorted(values, reverse=True)
    xmax = None
    if len(ordered) > 1 and ordered[1] > 0 and ordered[0] > 2 * ordered[1]:
        xmax = 1.3 * ordered[1]
    shown = [min(v, xmax) if xmax else v for v in values]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.2))
    errors = None
    if error_key:
        errors = [0.0 if r.get(error_key) is None or _is_undefined(r[error_key]) or x < v else r[error_key]
                  for r, v, x in zip(rows, values, shown)]
    ax.barh(range(len(rows)), shown, color=colors, xerr=errors, error_kw=dict(lw=0.8, capsize=2))
    if xmax:
        ax.set_xlim(right=xmax * 1.12)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    for i, (v, x, r) in enumerate(zip(values, shown, rows)):
        text = "n/a" if _is_undefined(r[metric]) or r[metric] is None else f"{v:.2f}"
        ax.text(x, i, f" {text}{' (axis cut)' if x < v else ''}", va="center", fontsize=7)
    ax.set_xlabel(f"{metric} (dB)" if "sdr" in metric or metric in ("sir", "sar") else metric)
    ax.set_title(title, fontsize=10)
    if color_key:
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette(i % 10)) for i in range(len(groups))]
        ax.legend(handles, [str(g) for g in groups], fontsize=8, loc="lower right")
    save_png(fig, path)


def save_png(fig, path: str | Path, dpi: int = 110) -> None:
    """Lay out a matplotlib figure, write it as PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)


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
