"""The listening page (``bssmask ablate --html``, :mod:`bssmask.listening`) read as files: its links, labels,
audio values and size budget, and its bad options. ``tests/test_listening_browser.py`` opens it in Chromium."""

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bssmask import listening
from bssmask.cli import main
from bssmask.experiment import report

FAST = ["--masks", "ibm,cirm", "--methods", "nearest,bilinear", "--spaces", "cartesian", "--upsampled", "mask",
        "--n-fft", "254", "--hop", "64"]


class Elements(HTMLParser):
    """The ``audio``, ``img``, ``th`` and ``td`` elements of a page (their attributes), and every URL it names."""

    def __init__(self, text: str):
        super().__init__()
        self.found = {"audio": [], "img": [], "th": [], "td": [], "table": []}
        self.urls = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.found:
            self.found[tag].append(attrs)
        self.urls += [attrs[k] for k in ("src", "href") if k in attrs]


def loud(speech_pair) -> np.ndarray:
    """The speech pair ``[2, T]``, each source scaled to peak at 0.8."""
    wavs = speech_pair.numpy()
    return 0.8 * wavs / np.abs(wavs).max(-1, keepdims=True)


def read_page(folder: Path) -> tuple[str, Elements]:
    text = (folder / "index.html").read_text()
    return text, Elements(text)


def check_links(folder: Path) -> Elements:
    """Assert that every file the page names exists relative to it, and that it names nothing else."""
    text, page = read_page(folder)
    assert not re.search(r"https?:|//", " ".join(page.urls)) and not re.search(r"https?://", text)
    for url in page.urls:
        assert not url.startswith("/") and (folder / url).is_file(), url
    return page


@pytest.fixture(scope="module")
def pair(tmp_path_factory, speech_pair):
    """Two 2 s source files of the bundled speech, each peaking at 0.8 (their sum peaks above 1)."""
    root = tmp_path_factory.mktemp("pair")
    paths = [root / "a.wav", root / "b.wav"]
    for path, wav in zip(paths, loud(speech_pair)):
        sf.write(path, wav, 8000, subtype="FLOAT")
    return paths


@pytest.fixture(scope="module")
def page(pair, tmp_path_factory):
    """``bssmask ablate --sources a.wav b.wav --html`` on a small grid: the output folder."""
    out = tmp_path_factory.mktemp("page") / "x"
    assert main(["ablate", "--sources", *map(str, pair), *FAST, "--html", "--out", str(out)]) == 0
    return out


def test_every_player_and_image_names_a_file_of_the_folder_with_a_label(page):
    elements = check_links(page)
    rows = json.loads((page / "ablation.json").read_text())["rows"]
    # mixture, two sources, then each grid row's estimate of each source
    assert len(elements.found["audio"]) == 3 + 2 * len(rows)
    assert all(a["aria-label"].strip() for a in elements.found["audio"])
    # the bar plot, the mixture's spectrogram and one mask figure per kind
    assert [Path(i["src"]).name for i in elements.found["img"]] == ["ablation.png", "spectrogram.png",
                                                                     "mask1.png", "mask2.png"]
    assert all(len(i["alt"]) > 20 for i in elements.found["img"])


def test_the_folder_works_moved(page, tmp_path):
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(page, moved)
    shutil.make_archive(str(tmp_path / "page"), "zip", moved)
    shutil.unpack_archive(tmp_path / "page.zip", tmp_path / "unzipped")
    for folder in (moved, tmp_path / "unzipped"):
        assert len(check_links(folder).found["audio"]) == len(check_links(page).found["audio"])


def test_players_play_the_estimates_at_one_shared_level(page, speech_pair):
    _, elements = read_page(page)
    players = {a["aria-label"]: page / a["src"] for a in elements.found["audio"]}
    clips = {label: sf.read(path, dtype="float32") for label, path in players.items()}
    assert {rate for _, rate in clips.values()} == {8000}
    sources = loud(speech_pair)
    level = np.abs(clips["source 1 (true)"][0]).max() / 0.8
    assert np.abs(sources.sum(0)).max() > 1 and level < 1  # the mixture is brought down, and every clip with it
    assert np.abs(clips["mixture a+b"][0] - level * sources.sum(0)).max() < 1e-4
    for k in (1, 2):
        assert np.abs(clips[f"source {k} (true)"][0] - level * sources[k - 1]).max() < 1e-4
        # the full-resolution complex ratio mask gives back each source exactly
        assert np.abs(clips[f"cirm / none: source {k} estimate"][0] - level * sources[k - 1]).max() < 1e-4
    # the binary mask after the round trip does not
    assert np.abs(clips["ibm / mask / bilinear: source 1 estimate"][0] - level * sources[0]).max() > 1e-2
    assert max(np.abs(wav).max() for wav, _ in clips.values()) == pytest.approx(listening.PEAK, abs=1e-4)
    for audio in elements.found["audio"]:
        assert float(audio["data-seconds"]) == sf.info(page / audio["src"]).duration == 2.0


def test_page_prints_the_settings_and_the_sortable_results(page):
    text, elements = read_page(page)
    for fact in ("<dt>window</dt><dd>hann</dd>", "<dt>factor</dt><dd>2 (downsampling: keep)</dd>",
                 "<dt>upsampling methods</dt><dd>nearest, bilinear</dd>", "<dt>spaces</dt><dd>cartesian</dd>"):
        assert fact in text
    rows = json.loads((page / "ablation.json").read_text())["rows"]
    results = text[text.index('<table class="sortable">'):text.index("</table>")]
    sorts = re.findall(r'<td class=num data-sort="([^"]*)">', results)
    assert len(sorts) == len(rows) * 5
    assert [float(v) for v in sorts[::5]] == [r["sdr"] for r in rows]  # best first, as ablation.md
    assert "<script>" in text and text.count("<table") == 2  # results, then the one mixture's estimates


def test_size_budget(page):
    for path in page.rglob("*.flac"):
        info = sf.info(path)
        assert path.stat().st_size * 8 <= listening.AUDIO_BITS_PER_SAMPLE * info.frames, path
    images = list((page / listening.ASSETS).rglob("*.png"))
    assert len(images) == 3 and all(path.stat().st_size <= listening.IMAGE_BYTES for path in images)


def test_dataset_pages_play_the_first_n_mixtures(tmp_path, speech_pair, capsys):
    for s in (1, 2):
        (tmp_path / "ds" / f"s{s}").mkdir(parents=True)
        for k in range(3):
            sf.write(tmp_path / "ds" / f"s{s}" / f"m{k}.wav", speech_pair[s - 1, k * 5000:k * 5000 + 4800].numpy(),
                     8000, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["ablate", "--dataset", str(tmp_path / "ds"), *FAST, "--jobs", "1", "--html", "--html-examples", "2",
                 "--out", str(out)]) == 0
    text = check_links(out) and (out / "index.html").read_text()
    assert re.findall(r"<h2>Mixture \d: (\w+)</h2>", text) == ["m0", "m1"]
    assert "<dt>mixtures scored</dt><dd>3</dd>" in text and " ± " in text  # means with their intervals


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_html_examples_one_line_exit_2_nothing_written(pair, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["ablate", "--sources", *map(str, pair), "--html", "--html-examples", value, "--out",
              str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "--html-examples" in err and "positive integer" in err
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def report_page(tmp_path_factory, speech_pair):
    """The recipe report's page (``report.write_listening``) of a head and a peer whose runs saved two mixtures
    of ``test`` and one of ``test_same`` (the estimates: each source plus a tenth of the other); the folder."""
    root = tmp_path_factory.mktemp("report")
    sources = speech_pair.numpy()
    rows = []
    for n, (head, kind) in enumerate((("irm", "bssmask"), ("convtasnet", "peer"))):
        run = root / "runs" / head
        for out, ids in (("eval", ["m1_m2", "m3_m4"]), ("eval_same", ["m5_m6"])):
            for i, mixture_id in enumerate(ids):
                folder = run / out / "examples" / mixture_id
                folder.mkdir(parents=True)
                wavs = np.roll(sources, 800 * i, axis=-1)
                sf.write(folder / "mixture.wav", wavs.sum(0), 8000, subtype="FLOAT")
                for k in range(2):
                    sf.write(folder / f"s{k + 1}.wav", wavs[k], 8000, subtype="FLOAT")
                    sf.write(folder / f"s{k + 1}_estimate.wav", wavs[k] + (n + 1) * 0.1 * wavs[1 - k], 8000,
                             subtype="FLOAT")
            metrics = "mixture_ID,si_sdr,input_si_sdr\n" + "".join(f"{m},{10 + n},{1.5}\n" for m in ids)
            (run / out / "metrics.csv").write_text(metrics)
        rows.append(dict(head=head, kind=kind, run=str(run), seeds=1, si_sdr_imp=8.0 - n,
                         si_sdr_imp_std=0.25 if n == 0 else None, si_sdr_imp_unseen=2.0 - n))
    out = root / "report"
    report.plot(rows, out / "report.png")
    report.write_listening(out, rows, "A preamble.\n", {"window": "sqrt-hann", "factor": "1"})
    return out, sources


def test_report_page_plays_every_run_on_the_saved_mixtures(report_page):
    folder, sources = report_page
    elements = check_links(folder)
    text = (folder / "index.html").read_text()
    # per mixture: the mixture, two sources, two runs' two estimates
    assert len(elements.found["audio"]) == 3 * 7
    assert [Path(i["src"]).name for i in elements.found["img"]] == ["report.png"] and elements.found["img"][0]["alt"]
    assert re.findall(r"<h3>([^<]*)</h3>", text) == ["test mixture 1: m1_m2", "test mixture 2: m3_m4",
                                                      "test_same mixture 1: m5_m6"]
    assert "8.00 ± 0.25" in text and ">8.50</td>" in text and ">9.50</td>" in text  # spread; each mixture's gain
    players = {a["aria-label"]: folder / a["src"] for a in elements.found["audio"]}
    level = np.abs(sf.read(players["m1_m2: source 1 (true)"])[0]).max() / np.abs(sources[0]).max()
    estimate = sf.read(players["convtasnet: source 2 estimate"])[0]  # the first of the three such labels
    assert np.abs(estimate - level * (sources[1] + 0.2 * sources[0])).max() < 1e-4
    assert all(path.stat().st_size * 8 <= listening.AUDIO_BITS_PER_SAMPLE * sf.info(path).frames
               for path in folder.rglob("*.flac"))


def test_html_examples_without_html_one_line_exit_2_nothing_written(pair, tmp_path, capsys):
    code = main(["ablate", "--sources", *map(str, pair), *FAST, "--html-examples", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "bssmask ablate: error: --html-examples: needs --html (the page it sets " \
                                        "the mixtures of)"
    assert not (tmp_path / "x").exists()


def test_table_cells_escape_text_and_sort_undefined_values_last():
    rows = [{"head": "<b>a</b>", "sdr": float("nan"), "sdr_std": None}, {"head": "b & c", "sdr": 3.5, "sdr_std": 0.25},
            {"head": "d", "sdr": None}]
    text = listening.table(rows, {"head": None, "sdr": ".2f", "sdr_std": ".2f"}, "caption <i>", spread_suffix="_std")
    assert "<b>" not in text and "&lt;b&gt;a&lt;/b&gt;" in text and "b &amp; c" in text and "caption &lt;i&gt;" in text
    cells = re.findall(r'<td class=num data-sort="([^"]*)">([^<]*)</td>', text)
    assert cells == [("", "n/a"), ("3.5", "3.50 ± 0.25"), ("", "-")]  # the spread is no column of its own
    assert text.count("<th scope") == 2
