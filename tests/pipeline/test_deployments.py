"""prefect.yaml: it validates offline, `prefect deploy --all` loads it into a Prefect server, and a
run started from the wave deployment (as the UI starts one) completes on the sandbox, executed by a
real process worker in a subprocess.

The deploy and worker commands run as subprocesses against the session's Prefect test server
(tests/pipeline/conftest.py): the CLI is exercised as the walk-through in docs/ui-walkthrough.md uses it.
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._models import DeploymentConfig, PrefectYamlModel, RawScheduleConfig
from prefect.client.schemas.schedules import CronSchedule

from flows.private_link import private_link_landing_zone
from flows.wave import WaveRun, migration_wave
from tests.pipeline.conftest import ROOT, all_approvable, default_scenario, info_file

PREFECT_YAML = ROOT / "prefect.yaml"
POOL = "plmigrate-process"
FLOWS = {
    "finance-wave": migration_wave,
    "finance-cutover": migration_wave,
    "finance-landing-zone": private_link_landing_zone,
}


def load_project(text: str | None = None) -> PrefectYamlModel:
    """Parse and validate prefect.yaml as `prefect deploy` does, plus what Prefect's model lets
    through silently: unknown deployment keys (ignored, so a typo would vanish) and schedules
    whose cron or time zone the server would reject."""
    raw = yaml.safe_load(text if text is not None else PREFECT_YAML.read_text())
    project = PrefectYamlModel.model_validate(raw)
    for deployment in raw.get("deployments", []):
        unknown = set(deployment) - set(DeploymentConfig.model_fields)
        if unknown:
            raise ValueError(f"deployment {deployment.get('name')}: unknown keys {sorted(unknown)}")
    for deployment in project.deployments:
        for schedule in deployment.schedules or []:
            if isinstance(schedule, RawScheduleConfig) and schedule.cron:
                CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    return project


def test_prefect_yaml_validates_offline_and_matches_the_flows() -> None:
    project = load_project()
    assert project.name == "plmigrate"
    assert project.pull == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ project.directory }}"}}
    ]
    by_name = {d.name: d for d in project.deployments}
    assert set(by_name) == set(FLOWS)
    for name, flow in FLOWS.items():
        deployment = by_name[name]
        assert deployment.work_pool is not None and deployment.work_pool.name == POOL
        assert deployment.enforce_parameter_schema is True
        assert "plmigrate" in deployment.tags and "business-unit:finance" in deployment.tags
        # The entrypoint names the flow object the test imported.
        path, function = deployment.entrypoint.split(":")
        assert (ROOT / path).is_file()
        assert getattr(flow, "fn", None).__name__ == function
    wave = by_name["finance-wave"]
    run = WaveRun.model_validate(wave.parameters["run"])  # the defaults fill the UI form
    assert (ROOT / run.business_unit_file).is_file() and (ROOT / run.inventory_file).is_file()
    [schedule] = wave.schedules
    assert (schedule.cron, schedule.timezone, schedule.active) == ("0 2 * * 6", "Europe/London", False)
    assert run.to == "replicating"
    cutover = by_name["finance-cutover"]
    assert WaveRun.model_validate(cutover.parameters["run"]).to == "completed"
    assert cutover.schedules == [] and not WaveRun.model_validate(cutover.parameters["run"]).change
    zone = by_name["finance-landing-zone"]
    assert set(zone.parameters) == {"business_unit_file", "target", "dry_run"}
    assert zone.schedules == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["deployments"][0]["schedules"][0].update(timezone="Europe/Londn"), "Europe/Londn"),
        (lambda d: d["deployments"][0]["schedules"][0].update(cron="0 2 * * Sat-"), "Invalid cron"),
        (lambda d: d["deployments"][0]["schedules"][0].update(interval=3600), "Exactly one of"),
        (lambda d: d["deployments"][0].update(enforce_parameters_schema=True), "enforce_parameters_schema"),
    ],
)
def test_a_broken_prefect_yaml_is_rejected_offline(change: Any, message: str) -> None:
    data = yaml.safe_load(PREFECT_YAML.read_text())
    change(data)
    with pytest.raises(ValueError, match=message):
        load_project(yaml.safe_dump(data))


def prefect_env(tmp: Path) -> dict[str, str]:
    """The environment of the CLI subprocesses: the session's test server, a private PREFECT_HOME
    (no user profile read or written) and no prompts."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the session Prefect test harness is not running"
    return os.environ | {
        "PREFECT_API_URL": url,
        "PREFECT_HOME": str(tmp / "prefect-home"),
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def prefect_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"prefect {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Create the work pool and deploy everything once for this module, as docs/ui-walkthrough.md does."""
    env = prefect_env(tmp_path_factory.mktemp("deploy"))
    prefect_cli("work-pool", "create", POOL, "--type", "process", "--overwrite", env=env)
    result = prefect_cli("--no-prompt", "deploy", "--all", env=env, timeout=120)
    for name in ("migration-wave/finance-wave", "private-link-landing-zone/finance-landing-zone"):
        assert name in " ".join(result.stdout.split()), result.stdout
    return env


def read_deployment(name: str) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_deployment_by_name(name)

    return asyncio.run(read())


def test_prefect_deploy_all_creates_both_deployments(deployed: dict[str, str]) -> None:
    wave = read_deployment("migration-wave/finance-wave")
    assert wave.work_pool_name == POOL
    assert wave.enforce_parameter_schema is True
    assert wave.tags == ["plmigrate", "business-unit:finance", "wave"]
    # The build step baked the project root into the pull step; a worker anywhere finds the code.
    assert wave.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
    # The UI form: WaveRun's fields, with their descriptions, under the `run` parameter.
    schema = wave.parameter_openapi_schema
    assert schema["required"] == ["run"]
    fields = schema["definitions"]["WaveRun"]["properties"]
    assert set(fields) == set(WaveRun.model_fields)
    for name, field in WaveRun.model_fields.items():
        assert fields[name]["description"] == field.description
    assert wave.parameters["run"]["wave"] == "wave-01"
    [schedule] = wave.schedules
    assert isinstance(schedule.schedule, CronSchedule)
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "0 2 * * 6",
        "Europe/London",
        False,
    )

    zone = read_deployment("private-link-landing-zone/finance-landing-zone")
    assert zone.work_pool_name == POOL
    assert zone.tags == ["plmigrate", "business-unit:finance", "landing-zone"]
    assert set(zone.parameter_openapi_schema["properties"]) == {"business_unit_file", "target", "dry_run"}
    assert zone.parameters["business_unit_file"] == "deployments/finance.yaml"
    assert zone.schedules == []


@pytest.fixture
def worker(deployed: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Start `prefect worker start --run-once` (in its own process group) on demand; always stopped."""
    started: list[subprocess.Popen[str]] = []
    log = tmp_path / "worker.log"

    def start() -> subprocess.Popen[str]:
        # The worker starts outside the project on purpose: the pull step must find the code.
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--run-once", "--limit", "1"],
            cwd=tmp_path,
            env=deployed | {"PREFECT_LOGGING_LEVEL": "INFO"},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    start.log = log  # type: ignore[attr-defined]
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def wait_for_final_state(flow_run_id: Any, timeout: float, worker: subprocess.Popen[str], log: Path) -> Any:
    from prefect.client.orchestration import get_client

    async def poll() -> Any:
        async with get_client() as client:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                run = await client.read_flow_run(flow_run_id)
                if run.state is not None and run.state.is_final():
                    return run
                if worker.poll() is not None and (run.state is None or run.state.is_scheduled()):
                    break  # the worker left without picking the run up
                await asyncio.sleep(0.5)
        raise AssertionError(
            f"flow run {flow_run_id} is {run.state!r} after {timeout} s; worker log:\n{log.read_text()}"
        )

    return asyncio.run(poll())


def flow_run_artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
            return {a.key: a for a in found if a.key}

    return asyncio.run(read())


def test_a_run_started_from_the_wave_deployment_completes_on_a_worker(
    deployed: dict[str, str], worker: Any, make_sandbox: Any, business_unit: Any, tmp_path: Path
) -> None:
    from prefect.deployments import run_deployment

    box = make_sandbox(all_approvable(default_scenario()))
    target = info_file(box, tmp_path)  # an absolute path: the run does not start in the test's directory
    parameters = {
        "run": {
            # The shipped business unit with the tests' short DNS and role waits (absolute path) ...
            "business_unit_file": str(business_unit()),
            # ... and the shipped inventory by its relative path, which only resolves if the pull
            # step put the run in the project root.
            "inventory_file": "deployments/waves/finance.csv",
            "wave": "wave-01",
            "target": target,
        }
    }
    # What the UI's "Run > Custom run" does: a Scheduled run for the deployment's work pool.
    flow_run = run_deployment(name="migration-wave/finance-wave", parameters=parameters, timeout=0)
    assert flow_run.state is not None and flow_run.state.is_scheduled()
    process = worker()
    run = wait_for_final_state(flow_run.id, 180, process, worker.log)
    assert run.state.is_completed(), f"{run.state!r}\n{worker.log.read_text()}"
    assert run.parameters == parameters

    artifacts = flow_run_artifacts(flow_run.id)
    table = next(a for k, a in artifacts.items() if k.startswith("wave-servers-finance-wave-01"))
    rows = table.data if isinstance(table.data, list) else yaml.safe_load(table.data)
    with (ROOT / "deployments/waves/finance.csv").open(newline="") as inventory:
        wave_01 = [row["server"] for row in csv.DictReader(inventory) if row["wave"] == "wave-01"]
    assert [row["server"] for row in rows] == wave_01  # every server of the wave, none of wave-02
    assert {row["state"] for row in rows} == {"ready"}, rows
    assert any(k.startswith("wave-summary-finance-wave-01") for k in artifacts), sorted(artifacts)
    assert box.world.call_report()["writes"] > 0, "the run never reached the sandbox"
    process.wait(30)  # --run-once: the worker leaves once its run is over
    assert process.returncode == 0, worker.log.read_text()
