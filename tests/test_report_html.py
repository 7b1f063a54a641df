"""The HTML report: self-contained, escaped, and rendered by headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
from types import SimpleNamespace as StoredRun

import pyarrow.parquet as pq
import pytest
from test_report_analysis import build_out
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import XstiltsError
from xstilts.report.analysis import analyse_rows
from xstilts.report.html import GENERALIZED_CAPTION, HEATMAP_CAPTION, render_html
from xstilts.report.matrix import matrix_key
from xstilts.report.plots import all_plots
from xstilts.report.summary import write_report
from xstilts.report.summary_md import analysis_markdown
from xstilts.studies.store import ResultStore


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
    assert "Per language genus" in md and "Per language resource level" in md
    assert "- vs baseline: per family: 6 comparisons; paired sign-flip test" in md
    assert ("; p exact for 6; with it the paired t-test over seeds for 6, p the larger of the two;"
            " Holm over the 6 tested." in md)
    assert "Seeds: the tests above hold each configuration's trained models fixed" in md


def test_page_is_self_contained_and_holds_the_headline(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "<link" not in page and 'src="data:image/png;base64,' in page
    summary = json.loads((report / "summary.json").read_text())
    headline = summary["headlines"][0]["text"].replace("&", "&amp;")
    assert headline in page
    assert "mix(cldr-units+cldr-names+humaneval-match)" in page
    assert "German (de)" in page and "Swahili" in page
    for grouping in ("family", "genus", "script", "resource-level"):
        assert f'id="{grouping}-table"' in page, grouping
    assert "Romance" in page and "Latn" in page  # a genus and a script of the study
    assert "exact sign-flip test" in page and "Tests and correction families" in page


def test_report_of_one_study_shows_its_description_and_only_its_runs(tmp_path: Path) -> None:
    out = build_out(tmp_path / "out")
    store = ResultStore(out)
    store.register("other", [StoredRun(id="0123456789abcdef", kind="target",
                                        encoder="tiny:random", intermediate="none",
                                        task="xnli", seed=0, parent=None, settings={})])
    store.close()
    report = write_report(out, "synth", formats=["md", "html"], resamples=50)
    md = (report / "summary.md").read_text()
    assert "Synthetic study: 30 examples <n>." in md
    assert "6 runs (6 done)" in md and "0123456789abcdef" not in md
    page = (report / "index.html").read_text()
    assert "Synthetic study: 30 examples &lt;n&gt;." in page and "0123456789abcdef" not in page
    with pytest.raises(XstiltsError, match=r"no study named 'nope'; its studies: other, synth"):
        write_report(out, "nope", formats=["md"])


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


def test_cli_report_statistics_options(tmp_path: Path) -> None:
    out = build_out(tmp_path / "out")
    result = CliRunner().invoke(app, ["report", str(out), "--format", "json",
                                      "--correction", "bh", "--resamples", "50",
                                      "--permutations", "500"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert (summary["correction"], summary["resamples"], summary["permutations"]) == (
        "bh", 50, 500)
    bad = CliRunner().invoke(app, ["report", str(out), "--correction", "bonferroni"])
    assert bad.exit_code == 2 and "holm" in bad.output


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
    assert 'id="genus-table"' in html and 'id="resource-level-table"' in html
    shot = tmp_path / "report.png"
    result = _run_chromium(binary, tmp_path, f"--screenshot={shot}", url)
    assert result.returncode == 0 and shot.stat().st_size > 10_000


def _rows(model: str, language: str, config: str, value: float, split: str = "test") -> dict:
    return {"study": "s", "run_id": f"{model}/{config}", "model": model, "intermediate": config,
            "target_task": "xnli", "language": language, "split": split, "metric": "accuracy",
            "value": value, "ci_low": None, "ci_high": None, "n": 10, "seed": 0}


@pytest.fixture(scope="module")
def two_encoders() -> dict:
    """Two encoders × {none, x} × {en, de, fr}, plus en/de generalized rows for one of them."""
    rows = [_rows(model, g, config, base + (0.1 if config == "x" else 0.0))
            for model, base in (("enc-a", 0.5), ("enc-b", 0.7))
            for config in ("none", "x") for g in ("en", "de", "fr")]
    rows += [_rows("enc-a", f"{a}-{b}", config, (0.86 if a == b else 0.66) - shift,
                   "test+generalized")
             for config, shift in (("none", 0.1), ("x", 0.0))
             for a in ("en", "de") for b in ("en", "de")]
    return analyse_rows(rows)


def _table(page: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}".*?</table>', page, re.S)
    assert match, table_id
    return match.group(0)


def test_generalized_matrix_is_drawn_and_tabled(two_encoders: dict) -> None:
    plots = all_plots(two_encoders)
    key = matrix_key(two_encoders["generalized"][0])
    assert plots[key].startswith(b"\x89PNG")
    page = render_html(two_encoders, plots, None, {}, [], "t")
    caption = re.escape(GENERALIZED_CAPTION)
    assert re.search(rf'<img src="data:image/png;base64,[^"]+" alt="{caption}', page)
    assert "accuracy: first \\ second" in page and ">86.0</td>" in page
    assert "same-language mean 86.0, mixed-language mean 66.0" in page
    md = analysis_markdown(two_encoders)
    assert "| accuracy (first \\ second) | en | de |" in md
    assert "| en | 86.0 | 66.0 |" in md


def test_several_encoders_get_a_model_column(two_encoders: dict) -> None:
    page = render_html(two_encoders, {}, None, {}, [], "t")
    for table_id in ("family-table", "genus-table", "language-table", "averages-table"):
        table = _table(page, table_id)
        assert "<th class=l>model</th>" in table, table_id
        assert "enc-a" in table and "enc-b" in table, table_id
    languages = _table(page, "language-table")
    # both encoders' German rows, each with its own score (60.0 vs 80.0 for "x")
    assert re.search(r"enc-a</td><td class=\"l\">xnli</td><td class=\"l\">German \(de\)"
                     r"</td><td class=\"l\">x</td><td[^>]*>60\.0", languages)
    assert re.search(r"enc-b</td><td class=\"l\">xnli</td><td class=\"l\">German \(de\)"
                     r"</td><td class=\"l\">x</td><td[^>]*>80\.0", languages)
    single = render_html(analyse_rows([_rows("enc-a", "de", "none", 0.5)]), {}, None, {}, [],
                         "t")
    assert "<th class=l>model</th>" not in single
