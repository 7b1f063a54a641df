"""The HTML report: self-contained, escaped, and rendered by headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_report_analysis import build_out
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.report.html import HEATMAP_CAPTION
from xstilts.report.summary import write_report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = build_out(tmp_path_factory.mktemp("html") / "out")
    return write_report(out, "synth", resamples=300)


def test_all_formats_are_written(report: Path) -> None:
    for name in ("index.html", "summary.md", "results.csv", "results.parquet", "summary.json"):
        assert (report / name).is_file(), name
    table = pq.read_table(report / "results.parquet")
    assert table.num_rows == 3 * 2 * 5 and "ci_high" in table.column_names
    summary = json.loads((report / "summary.json").read_text())
    assert summary["correction"] == "holm" and summary["headlines"]
    assert summary["environment"]["seeds"] == [0, 1]
    md = (report / "summary.md").read_text()
    assert "Per language family" in md and "(Holm)" in md and "Delta vs baseline" in md


def test_page_is_self_contained_and_holds_the_headline(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "<link" not in page and 'src="data:image/png;base64,' in page
    summary = json.loads((report / "summary.json").read_text())
    headline = summary["headlines"][0]["text"].replace("&", "&amp;")
    assert headline in page
    assert "mix(cldr-units+cldr-names+humaneval-match)" in page
    assert "German (de)" in page and "Swahili" in page


def test_text_is_escaped(tmp_path: Path) -> None:
    from xstilts.report.html import render_html

    analysis = {"headlines": [{"text": "<script>alert(1)</script>"}], "deltas": [], "scores": [],
                "averages": [], "overall": [], "categories": [], "scaling": [],
                "correlations": [], "correction": "holm", "confidence": 0.95, "resamples": 1,
                "alpha": 0.05}
    page = render_html(analysis, {}, {"name": "<b>x</b>"}, {}, [], "t<i>")
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_cli_report_formats(report: Path) -> None:
    out = report.parent
    result = CliRunner().invoke(app, ["report", str(out), "--format", "csv,md"])
    assert result.exit_code == 0, result.output
    assert "summary.md" in result.output and "index.html" not in result.output
    bad = CliRunner().invoke(app, ["report", str(out), "--format", "pdf"])
    assert bad.exit_code != 0 and "pdf" in bad.output


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("chromium is not installed (apt-get install chromium); cannot render the page")


def _run_chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,3000"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_page_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    binary = _chromium()
    url = (report / "index.html").resolve().as_uri()
    dom = _run_chromium(binary, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr  # a JavaScript error would be logged as Uncaught ...
    html = dom.stdout
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Heatmap', html)
    assert HEATMAP_CAPTION in html
    assert 'id="family-table"' in html and "Indo-European" in html
    shot = tmp_path / "report.png"
    result = _run_chromium(binary, tmp_path, f"--screenshot={shot}", url)
    assert result.returncode == 0 and shot.stat().st_size > 10_000
