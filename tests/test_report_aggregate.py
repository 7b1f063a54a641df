"""One averaging / delta path: summary.md's tables and the analysis give the same numbers.

The two cases below are where the two old code paths disagreed (summary.md averaged the
languages a configuration had, and showed the mean of full seeds' averages when there were
two or more; the analysis gave no average when a language was missing, and the mean of the
per-language seed means). The analysis' rule was the right one: an average over other languages
is not comparable with the baseline's, and the per-language seed means are the columns the
table itself shows.
"""

from __future__ import annotations

import pytest

from xstilts.report.aggregate import SeedTable
from xstilts.report.analysis import analyse_rows
from xstilts.report.summary import render_summary


def _row(config: str, lang: str, value: float, seed: int = 0) -> dict:
    return {"study": "s", "run_id": f"{config}{seed}", "model": "m", "intermediate": config,
            "target_task": "xnli", "language": lang, "split": "test", "metric": "accuracy",
            "value": value, "ci_low": None, "ci_high": None, "n": 10, "seed": seed}


def _md_row(md: str, first_cell: str, after: str) -> list[str]:
    """The cells of the table row starting with ``first_cell`` after the line ``after``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    row = next(line for line in lines[start:] if line.startswith(f"| {first_cell} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_a_configuration_missing_a_language_has_no_average_anywhere() -> None:
    # none: en 90, de 60, fr 70 -> zero-shot avg (60 + 70) / 2 = 65.0
    # x: en 92, de 66, no fr -> no zero-shot average and no delta (was 66.0 and +1.0 in md)
    rows = [_row("none", "en", 0.90), _row("none", "de", 0.60), _row("none", "fr", 0.70),
            _row("x", "en", 0.92), _row("x", "de", 0.66)]
    md = render_summary(rows, [])
    assert _md_row(md, "`none`", "## xnli")[-2:] == ["73.3", "65.0"]  # (90 + 60 + 70) / 3
    assert _md_row(md, "`x`", "## xnli")[-2:] == ["–", "–"]
    # delta columns: en, de, fr (English first, then sorted), avg, zero-shot avg
    assert _md_row(md, "`x`", "### Delta")[1:] == ["+2.0", "+6.0", "–", "–", "–"]
    analysis = analyse_rows(rows)
    averages = {a["config"]: a for a in analysis["averages"]}
    assert averages["none"]["zero_shot_avg"] == pytest.approx(65.0)
    assert averages["x"]["zero_shot_avg"] is None and averages["x"]["avg"] is None
    zero_shot = next(d for d in analysis["deltas"] if d["scope"] == "zero-shot avg")
    assert zero_shot["delta"] is None
    per_language = {d["scope"]: d["delta"] for d in analysis["deltas"]
                    if d["family"] == "vs baseline: per language"}
    assert per_language["de"] == pytest.approx(6.0) and per_language["fr"] is None


def test_a_seed_missing_a_language_still_counts_in_the_average() -> None:
    # none: de seeds 60, 62, 64 (mean 62); fr seeds 70, 74 (mean 72); en 90 in every seed.
    # zero-shot avg = (62 + 72) / 2 = 67.0, as the de and fr columns show (md had 66.5: the
    # mean of the two full seeds' averages 65 and 68); std over those full seeds:
    # stdev(65, 68) = sqrt(((-1.5)^2 + 1.5^2) / 1) = 2.12 -> "± 2.1"
    values = {("de", 0): 0.60, ("de", 1): 0.62, ("de", 2): 0.64, ("fr", 0): 0.70,
              ("fr", 1): 0.74, ("en", 0): 0.9, ("en", 1): 0.9, ("en", 2): 0.9}
    rows = [_row("none", lang, v, seed) for (lang, seed), v in values.items()]
    rows += [_row("x", lang, v + 0.01, seed) for (lang, seed), v in values.items()]
    md = render_summary(rows, [])
    cells = _md_row(md, "`none`", "## xnli")
    assert cells[2:5] == ["90.0", "62.0", "72.0"] and cells[-1] == "67.0 ± 2.1"  # en, de, fr
    # x is 1 point above everywhere: every delta +1.0
    assert _md_row(md, "`x`", "### Delta")[1:] == ["+1.0"] * 5
    analysis = analyse_rows(rows)
    none = next(a for a in analysis["averages"] if a["config"] == "none")
    assert none["zero_shot_avg"] == pytest.approx(67.0)
    assert none["zero_shot_std"] == pytest.approx(100 * 0.03 / 2 ** 0.5)
    zero_shot = next(d for d in analysis["deltas"] if d["scope"] == "zero-shot avg")
    assert zero_shot["delta"] == pytest.approx(1.0)


def test_seed_table_by_hand() -> None:
    table = SeedTable()
    for seed, (de, fr) in enumerate(((1.0, 3.0), (2.0, 5.0))):
        table.add("a", "de", seed, de)
        table.add("a", "fr", seed, fr)
    table.add("b", "de", 0, 1.0)
    assert table.score("a", "de") == 1.5 and table.average("a", ["de", "fr"]) == 2.75
    assert table.per_seed("a", ["de", "fr"]) == [2.0, 3.5]
    assert table.seed_std("a", ["de", "fr"]) == pytest.approx(1.5 / 2 ** 0.5)
    assert table.delta("a", "b", ["de"]) == 0.5
    assert table.delta("a", "b", ["de", "fr"]) is None  # b has no fr
    assert table.average("a", []) is None and table.seed_std("b", ["de"]) is None


def test_the_block_metric_is_the_handlers_primary_not_the_first_stored() -> None:
    pos = [{**_row(config, lang, v), "target_task": "udpos", "metric": metric}
           for config in ("none", "x") for lang, v in (("en", 0.9), ("de", 0.7))
           for metric in ("token_accuracy", "span_f1")]  # token accuracy stored first
    analysis = analyse_rows(pos)
    assert {b["metric"] for b in analysis["blocks"]} == {"span_f1"}
    assert analysis["metric_notes"] == []
    # runs of an older version stored token accuracy only: shown, and the report says so
    older = analyse_rows([r for r in pos if r["metric"] == "token_accuracy"])
    assert {b["metric"] for b in older["blocks"]} == {"token_accuracy"}
    assert older["metric_notes"] == [
        "udpos: its primary metric span_f1 is not stored (runs of an older version); the "
        "report shows token_accuracy, the first metric its runs stored"]
    # a task this process does not know: the first stored, with the reason
    unknown = analyse_rows([{**r, "target_task": "t"} for r in pos])
    assert {b["metric"] for b in unknown["blocks"]} == {"token_accuracy"}
    assert unknown["metric_notes"][0].startswith("t: its task type is not known")
