"""The Ray executor on a local Ray instance gives the in-process executor's results."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tiny_study import tiny_study

from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xstilts[ray]')")

STUDY = tiny_study("rayable")


def values(out: Path) -> list[tuple[str, str, str, str, str]]:
    write_report(out, formats=["csv"])
    with (out / "report" / "results.csv").open() as f:
        return sorted((r["run_id"], r["intermediate"], r["language"], r["metric"], r["value"])
                      for r in csv.DictReader(f))


def test_ray_executor_matches_in_process(tmp_path: Path) -> None:
    from xstilts.studies.ray_executor import run_study_ray

    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    spec = load_study(study)
    local = run_study(spec, tmp_path / "local", study_path=study, log=lambda _: None)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = run_study_ray(spec, tmp_path / "ray", study_path=study,
                                    log=lambda _: None)
    finally:
        ray.shutdown()
    assert not distributed.failed and len(distributed.done) == len(local.done) == 3
    assert values(tmp_path / "ray") == values(tmp_path / "local")
