"""A listening page: audio players, images and a sortable table in one folder that opens from disk.

A page is ``<out>/index.html`` with its files in ``<out>/listening/``
(one folder of ``*.flac`` and ``*.png`` per mixture), every ``src`` relative to the page, the
style and the one script inline: nothing is fetched from the network, and
the folder still works when it is moved or zipped. Audio is FLAC, 16 bits:
lossless, so what one hears is the estimate and not a codec's artifacts, and
browsers report its exact duration (Chromium reports OGG Vorbis files 256
samples longer than they are); 10 s of 8 kHz speech take about 105 KB, three
times Vorbis's size. The clips of one mixture share one gain, so their
levels compare (binary masks do not restore a source's level): at most 1,
so that the loudest clip peaks at :data:`PEAK`.

The page reads without JavaScript: the tables are plain HTML; the script only
turns each header of a ``sortable`` table into a button that sorts by it.

:func:`bssmask.ablation_page.ablation_page` (``bssmask ablate --html``) and the
recipes' report (:mod:`bssmask.experiment.report`) assemble their pages
from these parts (:class:`Assets`, :func:`table`, :func:`write_page`).

Size budget (checked by ``tests/test_listening.py``): at most
:data:`AUDIO_BITS_PER_SAMPLE` bits per sample of each clip and
:data:`IMAGE_BYTES` bytes per image.

Example:
    >>> import numpy as np, tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> with Assets.folder(out) as assets:
    ...     body = player(assets.audio("tone", np.sin(np.arange(8000) / 3), 8000), "a tone")
    >>> write_page(out, "Tone", {"rate": "8 kHz"}, body).name
    'index.html'
    >>> sorted(p.name for p in out.rglob("*") if p.is_file())
    ['index.html', 'tone.flac']
"""

from __future__ import annotations

import contextlib
import html
import math
from pathlib import Path

import numpy as np
import soundfile as sf

from . import tables
from .atomic import atomic_folder, write_text

__all__ = ["ASSETS", "PEAK", "AUDIO_BITS_PER_SAMPLE", "IMAGE_BYTES", "Assets", "gain", "player", "tf_figure",
           "table", "write_page"]

#: The page's folder of audio and images, next to ``index.html``.
ASSETS = "listening"
#: Peak level of the loudest clip of a mixture.
PEAK = 0.99
#: Size budget of the audio: bits per sample of each clip (16-bit PCM less an eighth).
AUDIO_BITS_PER_SAMPLE = 14
#: Size budget of each image, in bytes.
IMAGE_BYTES = 200_000

_STYLE = """body{font-family:sans-serif;max-width:80em;margin:1em auto;padding:0 1em;line-height:1.4}
dl{display:grid;grid-template-columns:max-content auto;gap:0 1em}dt{font-weight:bold}dd{margin:0}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:1em 0}caption{text-align:left;font-style:italic}
th,td{border:1px solid #bbb;padding:.2em .4em;text-align:left}td.num{text-align:right;white-space:nowrap}
th button{font:inherit;font-weight:bold;background:none;border:0;padding:0;cursor:pointer}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
audio{height:2.2em;width:13em}figure{display:inline-block;margin:.3em}figcaption{font-size:.9em}img{max-width:100%}"""

_SCRIPT = """document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, col) {
    var cell = row.cells[col];
    var text = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    return text === "" ? null : (isNaN(Number(text)) ? text : Number(text));
  }
  heads.forEach(function (head, col) {
    if (head.hasAttribute("data-nosort")) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = head.textContent;
    head.textContent = "";
    head.appendChild(button);
    button.addEventListener("click", function () {
      var up = head.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      head.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, col), y = key(b, col);
        if (x === null || y === null) { return (x === null) - (y === null); }
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<h1>{title}</h1>
<dl>{facts}</dl>
{body}
<script>{script}</script>
</body>
</html>
"""


def gain(*wavs) -> float:
    """The gain that brings the loudest of ``wavs`` (arrays or tensors) to :data:`PEAK`, at most 1; 1 for silence.

    Example:
        >>> gain(np.array([0.5, -2.0]), np.zeros(3))
        0.495
    """
    peak = max((float(np.abs(np.asarray(w)).max(initial=0.0)) for w in wavs), default=0.0)
    return min(1.0, PEAK / peak) if peak > 0 else 1.0


class Assets:
    """The audio and images of a page, written into a folder that becomes ``<out>/listening`` (:meth:`folder`).

    Paths in the page are relative to ``<out>/index.html``: :meth:`audio` returns a clip for
    :func:`player`, :meth:`image` the HTML of the image.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    @contextlib.contextmanager
    def folder(cls, out_dir: str | Path):
        """Yield the :class:`Assets` of ``<out_dir>/listening``, written whole on success (the old one replaced)."""
        with atomic_folder(Path(out_dir) / ASSETS) as tmp:
            yield cls(tmp)

    def _path(self, name: str) -> tuple[Path, str]:
        return self.root / name, html.escape(f"{ASSETS}/{name}")

    def audio(self, name: str, wav, rate: int, level: float = 1.0) -> tuple[str, float]:
        """Write ``wav [T]`` times ``level`` as ``<name>.flac``; return its ``src`` and its duration in seconds."""
        path, src = self._path(f"{name}.flac")
        path.parent.mkdir(parents=True, exist_ok=True)
        samples = np.clip(np.asarray(wav, dtype=np.float32) * level, -1.0, 1.0)
        sf.write(path, samples, rate, format="FLAC", subtype="PCM_16")
        return src, len(samples) / rate

    def image(self, name: str, fig, alt: str) -> str:
        """Write a matplotlib ``Figure`` as ``<name>.png``; return the image, ``alt`` its alt text and caption."""
        path, src = self._path(f"{name}.png")
        tables.save_png(fig, path, dpi=80, colors=128)
        alt = html.escape(alt)
        return f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def player(clip: tuple[str, float], label: str, caption: bool = True) -> str:
    """An audio player of a clip of :meth:`Assets.audio`, labelled ``label`` (and captioned, unless in a table
    row that says what it plays). Without audio support, a link to the file."""
    src, seconds = clip
    label = html.escape(label)
    audio = (f'<audio controls preload="metadata" src="{src}" aria-label="{label}" data-seconds="{seconds:.6f}">'
             f'<a href="{src}">{label}</a></audio>')
    return f"<figure><figcaption>{label}</figcaption>{audio}</figure>" if caption else audio


def tf_figure(panels: list[tuple[str, np.ndarray]], rate: int, hop: int, scale: str):
    """A matplotlib ``Figure`` of time-frequency ``panels`` (``(title, [F, T'] array)``), two per row.

    ``scale`` ``"db"`` shows a magnitude in dB (80 dB below the peak to the
    peak); ``"mask"`` a mask's magnitude from 0 to 1 (larger values saturate).
    """
    from matplotlib.figure import Figure

    n_rows = math.ceil(len(panels) / 2)
    fig = Figure(figsize=(9 if len(panels) > 1 else 6, 2.2 * n_rows))
    axes = fig.subplots(n_rows, min(2, len(panels)), squeeze=False)
    for ax, (title, values) in zip(axes.flat, panels):
        values = np.abs(values)
        extent = (0, values.shape[-1] * hop / rate, 0, rate / 2000)
        if scale == "db":
            values = 20 * np.log10(values + 1e-6)
            ax.imshow(values, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=values.max() - 80)
        else:
            ax.imshow(values, origin="lower", aspect="auto", extent=extent, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")
        ax.set_xlabel("s")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return fig


def _sort_value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return repr(float(value)) if math.isfinite(value) else ""


def table(rows: list[dict], columns: dict[str, str | None], caption: str, ceilings: dict[str, float] | None = None,
          spread_suffix: str | None = None, media: dict[str, list[str]] | None = None) -> str:
    """A sortable HTML table of ``rows``, cells as in :func:`bssmask.tables.to_markdown`.

    Args:
        columns: ``{key: format spec or None}``; a key whose spread key (``key + spread_suffix``) is
            listed is shown as ``value ± spread``. Cells sort by their value (undefined ones last).
        media: ``{column title: [HTML of each row]}``: columns of players, after the others, not sorted by.
    """
    ceilings, media = ceilings or {}, media or {}
    spreads = tables.spread_columns(columns, spread_suffix)
    shown = [k for k in columns if k not in spreads.values()]
    head = "".join(f'<th scope="col">{html.escape(k)}</th>' for k in shown)
    head += "".join(f'<th scope="col" data-nosort>{html.escape(k)}</th>' for k in media)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td{" class=num" if columns[k] else ""} data-sort="{html.escape(_sort_value(row.get(k)))}">'
            f"{html.escape(tables.cell(row, k, columns[k], ceilings.get(k), spreads.get(k)))}</td>" for k in shown)
        cells += "".join(f"<td>{cells_html[i]}</td>" for cells_html in media.values())
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table class="sortable"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def write_page(out_dir: str | Path, title: str, facts: dict[str, str], body: str) -> Path:
    """Write ``<out_dir>/index.html``: ``title``, the ``facts`` as a definition list, then the HTML ``body``."""
    facts_html = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
    path = Path(out_dir) / "index.html"
    write_text(path, _PAGE.format(title=html.escape(title), style=_STYLE, facts=facts_html, body=body,
                                  script=_SCRIPT))
    return path
