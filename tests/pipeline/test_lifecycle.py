"""The per-server lifecycle end to end: real Prefect runs driving the real Site Recovery client
against the sandbox, from `ready` through test migration to cutover, with the failures Azure
produces and the approvals a person gives."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from flows.lifecycle import wave_status
from flows.wave import WaveRun, migration_wave
from plmigrate.azure import Target
from plmigrate.errors import InputError
from plmigrate.inventory import load_inventory
from plmigrate.model import load_business_unit
from plmigrate.sandbox.serve import AdminClient
from tests.pipeline.conftest import ROOT, all_approvable, default_scenario, info_file
from tests.pipeline.test_landing_zone import _wait_for_paused

INVENTORY = str(ROOT / "deployments" / "waves" / "finance.csv")
ALWAYS = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "00:00"}]
FAST = {
    "enable_seconds": 0.3,
    "initial_replication_seconds": 1.0,
    "test_failover_seconds": 0.3,
    "test_failover_cleanup_seconds": 0.3,
    "failover_seconds": 0.3,
    "commit_seconds": 0.3,
    "disable_seconds": 0.3,
}
SR_TYPES = "Microsoft.RecoveryServices/vaults/replicationFabrics"


def scenario() -> dict[str, Any]:
    data = all_approvable(default_scenario())
    data["site_recovery"] = {**data.get("site_recovery", {}), **FAST}
    return data


def migration(windows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "test_network": {"resource_group": "rg-finance-servers", "vnet": "vnet-finance-test"},
        "cutover": {"time_zone": "Europe/Paris", "windows": ALWAYS if windows is None else windows,
                    "approval_timeout_seconds": 60},
        "timeouts": {"enable_seconds": 30, "initial_replication_seconds": 60, "test_failover_seconds": 30,
                     "cutover_seconds": 30, "poll_seconds": 0.3},
    }  # fmt: skip


def run(bu: Path, target: str, **kwargs: Any):
    return migration_wave(
        WaveRun(business_unit_file=str(bu), inventory_file=INVENTORY, wave="wave-01", target=target, **kwargs)
    )


def register(box: Any, bu: Path) -> None:
    AdminClient(box.info).register_appliance(load_business_unit(bu).vault_id, "appliance-fin-01")


def sr_writes(box: Any) -> int:
    return sum(
        r["count"]
        for r in box.world.call_report()["calls"]
        if r["method"] in {"PUT", "POST", "PATCH", "DELETE"} and r["resource_type"].startswith(SR_TYPES)
    )


def stages(report: Any) -> dict[str, str]:
    return {s.server: s.stage for s in report.lifecycle.servers}


def test_wave_01_to_tested_then_two_servers_completed_and_reruns_write_nothing(world, business_unit, tmp_path) -> None:
    box = world(scenario())
    target = info_file(box, tmp_path)
    bu = business_unit(migration=migration())
    assert run(bu, target).counts["ready"] == 36  # the landing zone: the vault exists now
    register(box, bu)

    report = run(bu, target, to="tested")
    assert set(stages(report).values()) == {"tested"}, report.lifecycle.servers
    assert report.lifecycle.writes == 36 * 3  # enable, test failover, cleanup: each once
    assert report.lifecycle.all_reached()
    # No test VM is left behind; every item records its test.
    vms = box.world.by_type("Microsoft.Compute/virtualMachines")
    assert not [v for v in vms if v["name"].endswith("-test")]

    writes = sr_writes(box)
    again = run(bu, target, to="tested")
    assert again.lifecycle.writes == 0 and sr_writes(box) == writes, "a second run with the same --to wrote"
    assert set(stages(again).values()) == {"tested"}

    cut = run(bu, target, to="migrated", change="CHG0042", approver="ops lead", servers=["fin-web-01", "fin-web-02"])
    assert stages(cut) == {"fin-web-01": "migrated", "fin-web-02": "migrated"}
    evidence = cut.lifecycle.cutover
    assert evidence is not None and (evidence.change, evidence.approver) == ("CHG0042", "ops lead")
    assert sorted(evidence.cut_over) == ["fin-web-01", "fin-web-02"] and "inside" in evidence.window
    migrated = {v["name"] for v in box.world.by_type("Microsoft.Compute/virtualMachines")}
    assert {"fin-web-01", "fin-web-02"} <= migrated
    assert next(s.vm_id for s in cut.lifecycle.servers if s.server == "fin-web-01").endswith("/fin-web-01")

    # Completion: replication removed (MigrationComplete), the VMs kept; told from `ready` by our tags.
    done = run(bu, target, to="completed", change="CHG0042", approver="ops lead", servers=["fin-web-01", "fin-web-02"])
    assert stages(done) == {"fin-web-01": "completed", "fin-web-02": "completed"}, done.lifecycle.servers
    items = {
        i["name"] for i in box.world.by_type(SR_TYPES + "/replicationProtectionContainers/replicationProtectedItems")
    }
    assert "fin-web-01" not in items and "fin-web-03" in items
    assert {"fin-web-01", "fin-web-02"} <= {v["name"] for v in box.world.by_type("Microsoft.Compute/virtualMachines")}
    writes = sr_writes(box)
    assert run(bu, target, to="completed", change="CHG0042", servers=["fin-web-01"]).lifecycle.writes == 0
    assert sr_writes(box) == writes

    # status reads the same stages from Azure and writes nothing.
    writes = sr_writes(box)
    loaded = load_business_unit(bu)
    status = wave_status(Target.sandbox(target.removeprefix("sandbox:")), loaded, "wave-01",
                         load_inventory(INVENTORY, loaded, "wave-01"))  # fmt: skip
    counts = status.counts
    assert (counts["completed"], counts["tested"]) == (2, 34) and sr_writes(box) == writes
    assert status.reads_per_cycle <= 5  # one page of items, one of failed jobs, ...: not one per server


def test_each_precondition_and_failed_job_blocks_only_its_server_and_a_rerun_resumes(
    world, business_unit, tmp_path
) -> None:
    box = world(scenario())
    target = info_file(box, tmp_path)
    bu = business_unit(migration=migration())
    four = ["fin-web-01", "fin-web-03", "fin-web-04", "fin-web-05"]
    unregistered = run(bu, target, to="replicating", servers=four)
    assert set(stages(unregistered).values()) == {"blocked"} and sr_writes(box) == 0
    assert "not registered with the vault" in unregistered.lifecycle.servers[0].reason
    assert "register it" in unregistered.lifecycle.servers[0].fix

    register(box, bu)
    admin = AdminClient(box.info)
    admin.call("PATCH", "/siterecovery/machines/appliance-fin-01/fin-web-03", {"mobility_agent": False})
    admin.call("PATCH", "/siterecovery/machines/appliance-fin-01/fin-web-04", {"fault": "enable_fails"})
    admin.call("PATCH", "/siterecovery/machines/appliance-fin-01/fin-web-05", {"fault": "test_failover_fails"})
    report = run(bu, target, to="tested", servers=four)
    by_name = {s.server: s for s in report.lifecycle.servers}
    assert by_name["fin-web-01"].stage == "tested"
    assert by_name["fin-web-03"].stage == "blocked" and "mobility agent" in by_name["fin-web-03"].reason
    assert by_name["fin-web-04"].stage == "blocked" and "enabling replication failed" in by_name["fin-web-04"].reason
    assert by_name["fin-web-05"].stage == "blocked" and "test migration" in by_name["fin-web-05"].reason
    assert by_name["fin-web-04"].fix and by_name["fin-web-05"].fix
    assert not report.lifecycle.all_reached()

    for server in ("fin-web-04", "fin-web-05"):
        admin.call("PATCH", f"/siterecovery/machines/appliance-fin-01/{server}", {"fault": None})
    admin.call("PATCH", "/siterecovery/machines/appliance-fin-01/fin-web-03", {"mobility_agent": True})
    resumed = run(bu, target, to="tested", servers=four)
    assert set(stages(resumed).values()) == {"tested"}, resumed.lifecycle.servers
    items = box.world.by_type(SR_TYPES + "/replicationProtectionContainers/replicationProtectedItems")
    assert sorted(i["name"] for i in items) == sorted(four)  # one item per server, no duplicates


def test_cutover_outside_a_window_or_with_the_approval_refused_writes_nothing(world, business_unit, tmp_path) -> None:
    box = world(scenario())
    target = info_file(box, tmp_path)
    closed = business_unit(migration=migration(windows=[]))
    with pytest.raises(InputError, match="outside the cutover windows"):
        run(closed, target, to="migrated", change="CHG1")
    assert box.world.call_report()["writes"] == 0

    bu = business_unit(migration=migration())
    run(bu, target)
    register(box, bu)
    two = ["fin-web-01", "fin-web-02"]
    assert set(stages(run(bu, target, to="tested", servers=two)).values()) == {"tested"}
    writes = sr_writes(box)
    outcome: dict[str, Any] = {}

    def go() -> None:
        try:
            outcome["report"] = run(bu, target, to="migrated", servers=two)  # no ticket: the run asks
        except Exception as exc:  # surfaced below
            outcome["error"] = exc

    runner = threading.Thread(target=go)
    runner.start()
    run_id = _wait_for_paused()
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(run_id, run_input={"change_ticket": "CHG7", "approver": "cab", "approve": False})
    runner.join(120)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert set(stages(report).values()) == {"tested"} and sr_writes(box) == writes
    assert "refused by cab" in report.lifecycle.cutover.refused
