"""Run ids are the contract between an output folder and the code: a refactoring that changes
one makes every finished run of that study be trained again (and orphans its results).

``fixtures/template_run_ids.json`` holds the ids of every run of the shipped study templates
and the quickstart as planned on 2026-12-02 (commit 55a3978, after the retrieval protocols
became settings). Planning them now must give exactly those ids; an intended change of ids
(a new result-changing default) updates the fixture in the same commit and says why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((Path(__file__).parent / "fixtures" / "template_run_ids.json").read_text())


@pytest.mark.parametrize("template", sorted(RECORDED))
def test_template_run_ids_are_unchanged(template: str) -> None:
    planned = sorted(run.id for run in plan_study(load_study(ROOT / template)).runs)
    recorded = RECORDED[template]
    assert len(planned) == len(recorded)
    assert planned == recorded, (
        f"{template}: {len(set(recorded) - set(planned))} recorded run id(s) no longer planned")


def test_every_template_is_recorded() -> None:
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "studies").glob("*.yaml")}
    assert shipped | {"examples/quickstart.yaml"} == set(RECORDED)
