"""A run on a Prefect server a person can open (here the tests' server, PREFECT_API_URL set)
pauses for the owner's approval. What the person who resumes it sees: a resume before the owner
approved says the connection is still Pending and pauses again; the approver and note given in
the Resume form go into the logs, the run's report and the approval artifact. And an input error
reaches the Logs tab as its one clean message, not behind engine tracebacks."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import resume_flow_run

from flows.private_link import private_link_landing_zone
from plmigrate.errors import InputError
from tests.conftest import Admin
from tests.pipeline.conftest import default_scenario, info_file
from tests.pipeline.test_landing_zone import _wait_for_paused


def _run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def logs_of(run_id: str) -> list[str]:
    async def read() -> list[str]:
        found = []
        async with get_client() as client:
            while True:  # the API hands out at most 200 at a time
                page = await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200, offset=len(found)
                )
                found += page
                if len(page) < 200:
                    break
        return [log.message for log in sorted(found, key=lambda log: log.timestamp)]

    return _run(read())


def latest_run_id(flow_name: str) -> str:
    async def read() -> str:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=1,
            )
            return str(runs[0].id)

    return _run(read())


def is_paused(run_id: str) -> bool:
    async def read() -> bool:
        async with get_client() as client:
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            return bool(runs and runs[0].state and runs[0].state.is_paused())

    return _run(read())


def latest_artifact(key: str) -> str:
    async def read() -> str:
        async with get_client() as client:
            found = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return str(found[0].data) if found else ""

    return _run(read())


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting until {what}")


def test_an_early_resume_says_still_pending_and_the_approver_is_recorded(world, business_unit, tmp_path: Path) -> None:
    box = world(default_scenario())  # stfincache01's owner must approve
    target = info_file(box, tmp_path)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = private_link_landing_zone(str(business_unit()), target)
        except Exception as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    run_id = _wait_for_paused()
    assert "Approval awaited: finance" in latest_artifact("approval-finance")
    resume_flow_run(run_id, run_input={"approved_by": "impatient", "note": ""})  # before the owner approved
    _wait(lambda: any("still Pending" in m for m in logs_of(run_id)), 60, "the run says the connection is Pending")
    _wait(lambda: is_paused(run_id), 60, "the run pauses again")
    account_id = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfincache01"
    )
    Admin(box).call("POST", "/connections", {"target_id": account_id, "status": "Approved"})
    resume_flow_run(run_id, run_input={"approved_by": "Ada (storage team)", "note": "ticket 42"})
    runner.join(120)
    assert "error" not in outcome, outcome.get("error")

    cache = next(a for a in outcome["report"].accounts if a.name == "stfincache01")
    assert cache.endpoint.connection.status == "Approved"
    assert cache.endpoint.written  # created by this run, though re-read after the approval
    assert "resumed by Ada (storage team) (ticket 42)" in cache.approval
    _wait(lambda: any("resumed by Ada" in m for m in logs_of(run_id)), 30, "the run's logs arrive")
    logs = logs_of(run_id)
    still = next(i for i, m in enumerate(logs) if "still Pending" in m)
    assert "stfincache01" in logs[still] and "Pausing again" in logs[still]
    assert any("resumed by impatient" in m for m in logs[:still])
    assert any("resumed by Ada (storage team) (ticket 42)" in m for m in logs[still:])
    artifact = latest_artifact("approval-finance")
    assert "Every connection is decided." in artifact
    assert "| stfincache01 |" in artifact and "Approved; run resumed by Ada (storage team) (ticket 42)" in artifact
    assert "| 1 | impatient | — | stfincache01: Pending |" in artifact
    report = latest_artifact("landing-zone-finance")
    assert "Ada (storage team)" in report


def test_an_input_error_is_one_clean_message_in_the_logs(world, business_unit, tmp_path: Path) -> None:
    box = world(default_scenario())
    with pytest.raises(InputError):
        private_link_landing_zone(str(business_unit(region="mars-north")), info_file(box, tmp_path))
    run_id = latest_run_id("private-link-landing-zone")
    # Logs reach the server in batches: wait for the run's last words.
    _wait(lambda: any("Finished in state Failed" in m for m in logs_of(run_id)), 30, "the run's logs arrive")
    logs = logs_of(run_id)
    assert not any("Traceback" in m for m in logs), logs
    assert any("unknown region 'mars-north'" in m for m in logs), logs
