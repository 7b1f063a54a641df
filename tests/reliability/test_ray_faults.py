"""The Ray executor when processes die (issue #17).

- a worker killed mid-run (SIGKILL after its first optimizer step) is retried by Ray and the
  run finishes with the results of an uninterrupted run;
- a worker killed on every attempt: the run is recorded as failed with the reason, its
  dependant as skipped, and the rest of the study completes;
- the driver killed after its first finished run: the rerun reuses every finished run.

Workers are killed from inside, by a setup hook Ray runs in each worker process
(``worker_process_setup_hook``): it wraps the trainer's step for one chosen run, counts the
attempts in a folder, and kills the process on the attempts the test's fault plan names.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_study import tiny_study

from xstilts.studies import ray_executor
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.studies.store import ResultStore

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xstilts[ray]')")

pytestmark = pytest.mark.slow  # each test starts Ray (10-20 s) and its worker processes

PLAN_ENV = "XSTILTS_TEST_RAY_FAULT_PLAN"


def _install_fault_hook() -> None:
    """Runs in every new Ray worker: kill the process after the first optimizer step of the
    run the plan file names, on the attempts it names ("first" or "every")."""
    import json
    import os
    import signal
    from pathlib import Path

    from xstilts.studies import ray_executor
    from xstilts.training import trainer

    plan_file = Path(os.environ[PLAN_ENV])
    current: dict[str, object] = {}
    execute_run, step = ray_executor.execute_run, trainer.TrainingLoop.step

    def counted_execute_run(run, out_dir, data_dir):  # noqa: ANN001, ANN202
        plan = json.loads(plan_file.read_text())
        current["plan"] = None
        if run.id == plan["run"]:
            attempts = Path(plan["attempts"])
            attempt = len(list(attempts.glob("*"))) + 1
            (attempts / f"{attempt}").write_text(str(os.getpid()))
            if plan["kill"] == "every" or attempt == 1:
                current["plan"] = plan
        return execute_run(run, out_dir, data_dir)

    def faulty_step(self):  # noqa: ANN001, ANN202
        step(self)
        if current.get("plan") is not None:
            os.kill(os.getpid(), signal.SIGKILL)

    ray_executor.execute_run = counted_execute_run
    trainer.TrainingLoop.step = faulty_step


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def write_study(folder: Path, name: str) -> Path:
    study = folder / f"{name}.yaml"
    study.write_text(tiny_study(name), encoding="utf-8")
    return study


def metrics(out: Path) -> dict[str, list[dict]]:
    return {p.parent.name: json.loads(p.read_text())["metrics"]
            for p in (out / "runs").glob("*/run.json")}


@pytest.fixture(scope="class")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local Ray for a test class, its workers started with the fault hook."""
    plan = tmp_path_factory.mktemp("fault") / "plan.json"
    plan.write_text(json.dumps({"run": "", "attempts": "", "kill": "first"}))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": _install_fault_hook,
                          "env_vars": {PLAN_ENV: str(plan)}})
    try:
        yield plan
    finally:
        ray.shutdown()


class TestWorkerDeath:
    @staticmethod
    def aim(plan_file: Path, run_id: str, kill: str, attempts: Path) -> None:
        attempts.mkdir()
        plan_file.write_text(json.dumps({"run": run_id, "attempts": str(attempts),
                                         "kill": kill}))

    def test_a_killed_worker_is_retried_and_its_run_finishes(
            self, plan_file: Path, tmp_path: Path) -> None:
        study = write_study(tmp_path, "retried")
        spec = load_study(study)
        reference = run_study(spec, tmp_path / "reference", study_path=study,
                              log=lambda _: None)
        phase2 = next(r for r in reference.plan.runs if r.kind == "intermediate")
        self.aim(plan_file, phase2.id, "first", tmp_path / "attempts")
        lines: list[str] = []
        outcome = ray_executor.run_study_ray(spec, tmp_path / "out", study_path=study,
                                             log=lines.append)
        assert not outcome.failed and not outcome.skipped, lines
        assert sorted(outcome.done) == sorted(reference.done)
        # the first attempt was killed mid-run, the second (another worker process) finished
        pids = [p.read_text() for p in sorted((tmp_path / "attempts").iterdir())]
        assert len(pids) == 2 and pids[0] != pids[1]
        assert metrics(tmp_path / "out") == metrics(tmp_path / "reference")

    def test_a_run_whose_worker_always_dies_fails_and_the_rest_completes(
            self, plan_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ray_executor, "MAX_RETRIES", 1)  # two attempts, both killed
        study = write_study(tmp_path, "lost")
        spec = load_study(study)
        plan = plan_study(spec)
        phase2 = next(r for r in plan.runs if r.kind == "intermediate")
        dependant = next(r for r in plan.runs if r.parent == phase2.id)
        baseline = next(r for r in plan.runs if r.kind == "target" and r.parent is None)
        self.aim(plan_file, phase2.id, "every", tmp_path / "attempts")
        lines: list[str] = []
        outcome = ray_executor.run_study_ray(spec, tmp_path / "out", study_path=study,
                                             log=lines.append)
        assert len(list((tmp_path / "attempts").iterdir())) == 2
        assert list(outcome.failed) == [phase2.id]
        assert "worker" in outcome.failed[phase2.id]
        assert "WorkerCrashedError" in outcome.failed[phase2.id]
        assert outcome.skipped == {dependant.id: f"parent run {phase2.id} did not finish"}
        assert outcome.done == [baseline.id]
        store = ResultStore(tmp_path / "out")
        try:
            status = {r["id"]: (r["status"], r["error"]) for r in store.runs("lost")}
        finally:
            store.close()
        assert status[phase2.id] == ("failed", outcome.failed[phase2.id])
        assert status[dependant.id][0] == "skipped"
        assert status[baseline.id][0] == "done"
        assert any("FAILED" in line and "WorkerCrashedError" in line for line in lines)


def xstilts_ray(study: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(out),
         "--executor", "ray"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))


def descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (Ray's head processes and workers)."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                              text=True).stdout.split()
    return [int(c) for c in children] + [d for c in children for d in descendants(int(c))]


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except FileNotFoundError:
        return "(gone)"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_driver_leaves_finished_runs_that_the_rerun_reuses(tmp_path: Path) -> None:
    study = write_study(tmp_path, "driverless")
    out = tmp_path / "out"
    driver = xstilts_ray(study, out)
    finished: list[Path] = []
    deadline = time.monotonic() + 300
    while not finished and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        finished = [p.parent for p in (out / "runs").glob("[!.]*/XSTILTS_COMPLETE")
                    if not p.parent.name.endswith(".failed")] if out.exists() else []
    assert driver.poll() is None, "the study ended (or timed out) before it could be killed"
    time.sleep(1.0)  # let the driver record it (a finished folder is adopted either way)
    started = descendants(driver.pid)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    grace = time.monotonic() + 30
    while any(alive(p) for p in started) and time.monotonic() < grace:
        time.sleep(0.5)
    orphans = {p: command(p) for p in started if alive(p)}
    for pid in orphans:  # Ray's processes of the killed driver that outlived it
        os.kill(pid, signal.SIGKILL)
    # Ray's dashboard and runtime-env agents can outlive a SIGKILLed driver (seen: > 30 s);
    # they never touch the output folder. Nothing else may: a worker still training would
    # write into the folder the rerun works in.
    agents = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
    assert not {p: c for p, c in orphans.items() if not c.startswith(agents)}, orphans
    stamps = {p.name: (p / "run.json").stat().st_mtime_ns for p in finished}

    rerun = xstilts_ray(study, out)
    log, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, log
    for run_id in stamps:
        assert any(run_id in line and ("done before, reused" in line
                                       or "finished folder found, recorded" in line)
                   for line in log.splitlines()), log
    assert {p.name: (p / "run.json").stat().st_mtime_ns
            for p in (out / "runs").iterdir() if p.name in stamps} == stamps
    store = ResultStore(out)
    try:
        assert {r["status"] for r in store.runs("driverless")} == {"done"}
    finally:
        store.close()
