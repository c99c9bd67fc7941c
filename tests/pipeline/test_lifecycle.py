"""The per-server lifecycle end to end: real Prefect runs driving the real Site Recovery client
against the sandbox, from `ready` through test migration to cutover, with the failures Azure
produces and the approvals a person gives."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flows.lifecycle import wave_status
from flows.wave import WaveRun, migration_wave
from plmigrate.azure import Target, clients, rest
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


# The vault's Site Recovery setup `status` reads first: fabrics, the fabric's containers, the
# container's policy mappings, the policies and the appliances (one appliance, one page each).
SETUP_READS = 5


def read_counts(box: Any) -> Counter[str]:
    """The sandbox's own count of ARM reads, per resource type."""
    counts: Counter[str] = Counter()
    for row in box.world.call_report()["calls"]:
        if row["method"] == "GET":
            counts[row["resource_type"]] += row["count"]
    return counts


def wave_status_of(bu: Path, target: str) -> Any:
    loaded = load_business_unit(bu)
    servers = load_inventory(INVENTORY, loaded, "wave-01")
    return wave_status(Target.sandbox(target.removeprefix("sandbox:")), loaded, "wave-01", servers)


def drop_subnets(target: str, group: str, name: str, gone: set[str]) -> None:
    """Remove subnets from a VNet as ARM does: a PUT of the VNet without them."""
    network = clients(Target.sandbox(target.removeprefix("sandbox:"))).network.virtual_networks
    vnet = rest(network.get(group, name))
    kept = [s for s in vnet["properties"]["subnets"] if s["name"] not in gone]
    assert len(kept) < len(vnet["properties"]["subnets"]), [s["name"] for s in vnet["properties"]["subnets"]]
    subnets = [{"name": s["name"], "properties": {"addressPrefix": s["properties"]["addressPrefix"]}} for s in kept]
    body = {
        "location": vnet["location"],
        "properties": {"addressSpace": vnet["properties"]["addressSpace"], "subnets": subnets},
    }
    network.begin_create_or_update(group, name, body).result()


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

    # status, every server with an item: the setup, one page of items and one of failed jobs, and the
    # target networks once (the resource group, the VNets' list), as the sandbox counts them; no
    # discovered machines and no VMs are read.
    reads = read_counts(box)
    status = wave_status_of(bu, target)
    spent = read_counts(box) - reads
    assert set(status.counts.items()) >= {("tested", 36)} and sr_writes(box) == 3 * 36 and status.held == 0
    assert spent.total() == SETUP_READS + status.reads_per_cycle and status.reads_per_cycle == 2 + 2, spent
    assert not [t for t in spent if "OffAzure" in t or "virtualMachines" in t], spent
    assert spent["Microsoft.Resources/resourceGroups"] == 1 and spent["Microsoft.Network/virtualNetworks"] == 1

    # The test network's subnets removed once the tests are done: nothing is held, for no write
    # still ahead (the cutover) uses the test network; the cutover below goes on.
    drop_subnets(target, "rg-finance-servers", "vnet-finance-test", {"snet-fin-web", "snet-fin-app", "snet-fin-db"})
    status = wave_status_of(bu, target)
    assert status.held == 0 and set(status.counts.items()) >= {("tested", 36)}, status.servers

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

    # status reads the same stages from Azure and writes nothing; for the two servers without an
    # item (completed) it also reads what the appliance discovered and their resource group's VMs.
    writes, reads = sr_writes(box), read_counts(box)
    status = wave_status_of(bu, target)
    spent = read_counts(box) - reads
    counts = status.counts
    assert (counts["completed"], counts["tested"]) == (2, 34) and sr_writes(box) == writes
    assert spent.total() == SETUP_READS + status.reads_per_cycle and status.reads_per_cycle == 4 + 2, spent
    assert sum(n for t, n in spent.items() if "OffAzure" in t) == 1, spent  # one site, once, for both

    # A target subnet removed after the test migration: status says what a run's preflight says,
    # for that subnet's six servers (their cutover would fail), on one read of each network as before.
    drop_subnets(target, "rg-network-hub", "vnet-hub-eastus", {"snet-fin-db"})
    reads = read_counts(box)
    status = wave_status_of(bu, target)
    spent = read_counts(box) - reads
    on_db = {s.server: s for s in status.servers if "snet-fin-db" in s.reason}
    assert len(on_db) == 6 == status.held and {s.stage for s in on_db.values()} == {"tested"}, status.servers
    row = next(iter(on_db.values()))
    assert "; held: target subnet snet-fin-db is not in" in row.reason and "create the subnet" in row.fix
    assert spent.total() == SETUP_READS + status.reads_per_cycle and status.reads_per_cycle == 6, spent
    held = run(bu, target, to="migrated", change="CHG0043", servers=[row.server])
    assert held.lifecycle.writes == 0 and sr_writes(box) == writes
    assert [(s.stage, s.reason, s.fix) for s in held.lifecycle.servers] == [(row.stage, row.reason, row.fix)]


def test_each_precondition_and_failed_job_blocks_only_its_server_and_a_rerun_resumes(
    world, business_unit, tmp_path
) -> None:
    box = world(scenario())
    target = info_file(box, tmp_path)
    # No pause for the unregistered appliance (pause_in_ui off, as a terminal run): blocked at once.
    bu = business_unit(migration=migration(), approval={"pause_in_ui": False})
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

    # Nobody answers: the pause ends at the cutover's approval timeout (3 s), checking for a Resume
    # every approval.poll_seconds (1 s here) as the other pauses do; at a fixed 10 s it held ~11.5 s.
    quick = migration()
    quick["cutover"]["approval_timeout_seconds"] = 3
    bu = business_unit(migration=quick)
    outcome.clear()
    runner = threading.Thread(target=go)
    runner.start()
    _wait_for_paused()
    paused = time.monotonic()
    runner.join(120)
    held = time.monotonic() - paused
    assert "error" not in outcome, outcome.get("error")
    assert "nobody approved" in outcome["report"].lifecycle.cutover.refused and sr_writes(box) == writes
    assert held < 9, f"the cutover pause (timeout 3 s) lasted {held:.1f} s"

    # Pausing turned off (approval.pause_in_ui, the landing zone's wait_mode decision): no ticket, no
    # pause, nothing cut over.
    no_pause = run(business_unit(migration=migration(), approval={"pause_in_ui": False}), target, to="migrated",
                   servers=two)  # fmt: skip
    assert set(stages(no_pause).values()) == {"tested"} and sr_writes(box) == writes
    assert "cannot pause" in no_pause.lifecycle.cutover.refused  # the branch that never pauses


def test_an_unregistered_appliance_pauses_the_run_until_registered_or_the_approval_timeout(
    world, business_unit, tmp_path
) -> None:
    box = world(scenario())
    target = info_file(box, tmp_path)
    two = ["fin-web-01", "fin-web-02"]
    # Nobody resumes: after the business unit's approval timeout the servers stay blocked, with the fix.
    bu = business_unit(migration=migration(), approval={"timeout_seconds": 3, "poll_seconds": 1})
    started = time.monotonic()
    timed_out = run(bu, target, to="replicating", servers=two)
    assert time.monotonic() - started >= 3, "the run did not wait for the appliance"
    assert set(stages(timed_out).values()) == {"blocked"} and sr_writes(box) == 0
    assert "not registered with the vault" in timed_out.lifecycle.servers[0].reason
    assert "register it" in timed_out.lifecycle.servers[0].fix

    bu = business_unit(migration=migration(), approval={"timeout_seconds": 120, "poll_seconds": 1})
    outcome: dict[str, Any] = {}

    def go() -> None:
        try:
            outcome["report"] = run(bu, target, to="replicating", servers=two)
        except Exception as exc:  # surfaced below
            outcome["error"] = exc

    runner = threading.Thread(target=go)
    runner.start()
    run_id = _wait_for_paused()
    waiting = _artifact_text("appliance-wait-finance-wave-01")
    vault_id = load_business_unit(bu).vault_id
    assert "appliance-fin-01" in waiting and vault_id in waiting
    assert f"register-appliance --info {target.removeprefix('sandbox:')} --vault {vault_id} appliance-fin-01" in waiting
    assert sr_writes(box) == 0
    from prefect.flow_runs import resume_flow_run

    # Resumed before the registration: the preflight runs again, finds it still missing, pauses again.
    resume_flow_run(run_id, run_input={"done_by": "infra", "note": "too early"})
    time.sleep(2)
    run_id = _wait_for_paused()
    register(box, bu)
    resume_flow_run(run_id, run_input={"done_by": "infra", "note": "registered with the key file"})
    runner.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert set(stages(outcome["report"]).values()) == {"replicating"}, outcome["report"].lifecycle.servers


def _artifact_text(key: str) -> str:
    """The newest version of a markdown artifact, as the UI shows it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert found, f"no artifact {key}"
    return f"{found[0].description}\n{found[0].data}"


def test_the_cli_shows_counts_per_stage_as_they_change_and_json_keeps_stdout_to_the_object(
    world, business_unit, tmp_path, capsys
) -> None:
    from plmigrate.cli import main

    box = world(scenario())
    target = info_file(box, tmp_path)
    bu = business_unit(migration=migration())
    run(bu, target)
    register(box, bu)
    capsys.readouterr()
    where = ["--inventory", INVENTORY, "--sandbox", target.removeprefix("sandbox:")]
    code = main(
        ["wave", str(bu), "wave-01", *where, "--to", "replicated", "--servers", "fin-web-01,fin-web-02", "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["counts"]["replicated"] == 2  # stdout: the one object, nothing else
    lines = [line for line in err.splitlines() if line.startswith("wave-01 to replicated: ")]
    assert lines[0].startswith("wave-01 to replicated: ready 2 (0/2 at replicated)"), err
    assert lines[-1] == "wave-01 to replicated: replicated 2 (2/2 at replicated)", err
    assert any("replicating" in line for line in lines), err  # each change on its own line (stderr is no TTY)
    assert len(lines) == len(set(lines)), "a line repeated although nothing changed"
    assert "wave-01 readiness: ready 36 (36/36 servers recorded)" in err
    # The progress artifact says the same.
    assert "replicated 2 (2/2 at replicated)" in _artifact_text("lifecycle-progress-finance-wave-01")

    # status: 0 while nothing is blocked or held; 1 once a target subnet is gone, saying how many
    # servers a preflight problem holds: the six on it (two replicated, four without an item: blocked).
    assert main(["status", str(bu), "wave-01", *where]) == 0
    assert "34 ready, 2 replicated (" in capsys.readouterr().err
    drop_subnets(target, "rg-network-hub", "vnet-hub-eastus", {"snet-fin-web"})
    assert main(["status", str(bu), "wave-01", *where, "--json"]) == 1
    out, err = capsys.readouterr()
    assert "4 blocked, 30 ready, 2 replicated; 6 held by a preflight problem" in err, err
    held = [s for s in json.loads(out)["servers"] if "snet-fin-web" in s["reason"]]
    assert len(held) == 6 and all(s["fix"] for s in held), held
