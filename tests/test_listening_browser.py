"""The listening pages opened from disk in headless Chromium: every player decodes, every image loads,
the table sorts, and no request leaves the folder.

Marked ``browser``: outside the default run, ``make test-browser`` (``pytest -m browser``) runs it;
skipped there when Debian's ``chromium`` is not installed.
"""

import math
import shutil

import pytest
import soundfile as sf

from browser_check import check_page, find_chromium
from test_listening import pair, page, report_page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")]


def zipped_copy(folder, tmp_path):
    """``folder`` zipped and unzipped elsewhere under another name (the page must not depend on where it is)."""
    shutil.make_archive(str(tmp_path / "page"), "zip", folder)
    shutil.unpack_archive(tmp_path / "page.zip", tmp_path / "unzipped")
    return tmp_path / "unzipped"


def check_in_browser(folder, sort_by):
    report = check_page(folder / "index.html", sort_by)
    assert report["audio"] and report["images"]
    for audio in report["audio"]:
        assert audio["state"] == "ok" and audio["label"], audio
        frames = sf.info(folder / audio["src"])
        assert math.isfinite(audio["duration"]) and audio["duration"] == pytest.approx(frames.duration, abs=1e-6)
    assert all(image["ok"] and image["alt"] for image in report["images"]), report["images"]
    # every request is a file of the folder (or a data: URL, Chromium's own player icons)
    inside = folder.resolve().as_uri() + "/"
    assert all(url.startswith(inside) or url.startswith("data:") for url in report["requests"] + report["resources"])
    assert len([u for u in report["requests"] if u.startswith(inside)]) >= len(report["audio"]) + len(report["images"])
    return report


def numbers(values):
    return [float(v) for v in values if v != ""]


def test_ablation_page_works_in_chromium(page, tmp_path):
    report = check_in_browser(zipped_copy(page, tmp_path), "sdr")
    sort = report["sort"]
    assert numbers(sort["before"]) == sorted(numbers(sort["before"]), reverse=True)  # written best first
    assert numbers(sort["ascending"]) == sorted(numbers(sort["before"]))
    assert numbers(sort["descending"]) == sorted(numbers(sort["before"]), reverse=True)


def test_report_page_works_in_chromium(report_page, tmp_path):
    report = check_in_browser(zipped_copy(report_page[0], tmp_path), "head")
    assert report["sort"]["ascending"] == sorted(report["sort"]["before"]) == ["convtasnet", "irm"]
    assert report["sort"]["descending"] == ["irm", "convtasnet"]
