"""Run ids are the contract between an output folder and the code: a refactoring that changes
one makes every finished run of that study be trained again (and orphans its results).

``fixtures/template_run_ids.json`` holds the ids of every run of the shipped study templates
and the quickstart as planned on 2026-12-02 (commit 55a3978, after the retrieval protocols
became settings). Planning them now must give exactly those ids; an intended change of ids
(a new result-changing default) updates the fixture in the same commit and says why.

The ids were recorded where ``precision: auto`` is fp32 (a CPU without native bf16); the
concrete precision is part of a run's identity, so the templates are planned here as on such a
machine whatever this one has, and a separate test checks that bf16 gives other ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.training import runs

ROOT = Path(__file__).resolve().parents[1]
RECORDED = json.loads((Path(__file__).parent / "fixtures" / "template_run_ids.json").read_text())


def _resolving_auto_to(monkeypatch: pytest.MonkeyPatch, concrete: str) -> None:
    real = runs.resolve_precision
    monkeypatch.setattr(runs, "resolve_precision",
                        lambda requested: concrete if requested == "auto" else real(requested))


@pytest.fixture(autouse=True)
def fp32_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving_auto_to(monkeypatch, "no")


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


def test_auto_precision_resolving_to_bf16_gives_other_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine with native bf16 the same study trains in bf16: other runs, other ids."""
    template = "examples/quickstart.yaml"
    _resolving_auto_to(monkeypatch, "bf16")
    planned = plan_study(load_study(ROOT / template)).runs
    assert {run.settings["training"]["precision"] for run in planned} == {"bf16"}
    assert not set(run.id for run in planned) & set(RECORDED[template])

