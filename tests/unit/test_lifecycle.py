"""The lifecycle's pure decisions: every stage read from Azure's facts, every (stage, target) pair's
next action, cutover windows, item matching and the bodies the writes send."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
import yaml

from plmigrate import lifecycle as lc
from plmigrate.errors import InputError
from plmigrate.inventory import load_inventory
from plmigrate.lifecycle import ORDER, Position, next_action, reached, stage_of
from plmigrate.model import BusinessUnit, CutoverWindow, load_business_unit

# -- facts as Azure shows them --------------------------------------------------------------------


def item(
    *,
    allowed: tuple[str, ...] = (),
    progress: float | None = None,
    point: bool = False,
    test_state: str = "None",
    tested: bool = False,
    location: str = "Primary",
    scenario: str | None = None,
    job: str | None = None,
    health: str = "Normal",
    health_errors: list[dict[str, Any]] | None = None,
    name: str = "srv-01",
    machine: str = "/machines/m-01",
) -> dict[str, Any]:
    details: dict[str, Any] = {"instanceType": "InMageRcm", "fabricDiscoveryMachineId": machine}
    if progress is not None:
        details["initialReplicationProgressPercentage"] = progress
    if point:
        details["lastRecoveryPointId"] = "/recoveryPoints/rp-1"
    props: dict[str, Any] = {
        "allowedOperations": list(allowed),
        "activeLocation": location,
        "testFailoverState": test_state,
        "replicationHealth": health,
        "healthErrors": health_errors or [],
        "providerSpecificDetails": details,
        "currentScenario": {"scenarioName": scenario or "None", **({"jobId": f"/jobs/{job}"} if job else {})},
    }
    if tested:
        props["lastSuccessfulTestFailoverTime"] = "2026-12-01T08:00:00Z"
    return {"id": f"/items/{name}", "name": name, "properties": props}


def job(
    name: str, scenario: str, state: str, *, target: str = "srv-01", start: str = "2026-12-01T09:00:00Z", **error: str
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "scenarioName": scenario,
        "state": state,
        "targetObjectName": target,
        "targetObjectId": f"/items/{target}",
        "startTime": start,
        "friendlyName": scenario,
        "errors": [{"serviceErrorDetails": error}] if error else [],
    }
    return {"id": f"/jobs/{name}", "name": name, "properties": props}


ENABLING = item(scenario="EnableDr", job="j-enable", progress=0)
REPLICATING = item(allowed=("DisableProtection",), progress=42)
REPLICATED = item(allowed=("TestFailover", "UnplannedFailover", "DisableProtection"), progress=100, point=True)
TEST_RUNNING = item(allowed=(), progress=100, point=True, scenario="TestFailover", job="j-tfo", test_state="InProgress")
TEST_MIGRATED = item(allowed=("TestFailoverCleanup",), progress=100, point=True, test_state="WaitingForCompletion")
TESTED = item(allowed=("TestFailover", "UnplannedFailover", "DisableProtection"), progress=100, point=True, tested=True)
FAILED_OVER = item(allowed=("Commit",), point=True, tested=True, location="Recovery")
COMMITTED = item(allowed=("DisableProtection",), point=True, tested=True, location="Recovery")

SETTLED: dict[str, tuple[dict[str, Any] | None, bool, str, bool]] = {
    # name: (item, vm exists, stage, commit pending)
    "absent": (None, False, "ready", False),
    "replicating": (REPLICATING, False, "replicating", False),
    "replicated": (REPLICATED, False, "replicated", False),
    "test-migrated": (TEST_MIGRATED, False, "test-migrated", False),
    "tested": (TESTED, False, "tested", False),
    "failed-over": (FAILED_OVER, False, "tested", True),
    "committed": (COMMITTED, False, "migrated", False),
    "removed": (None, True, "completed", False),
}


# -- stage_of ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SETTLED)
def test_each_settled_state_has_its_stage(name: str) -> None:
    facts, vm, stage, pending = SETTLED[name]
    position = stage_of(facts, None, vm_exists=vm)
    assert (position.stage, position.commit_pending, position.running) == (stage, pending, None)


def test_replicating_shows_its_percentage() -> None:
    position = stage_of(REPLICATING)
    assert position.progress == 42 and "42%" in position.reason


def test_a_running_job_is_followed_and_keeps_the_stage_before() -> None:
    position = stage_of(TEST_RUNNING, job("j-tfo", "TestFailover", "InProgress"))
    assert (position.stage, position.running, position.running_job) == ("replicated", "test_failover", "j-tfo")
    # Without the job's own record (not listed yet), the item's currentScenario is enough.
    assert stage_of(TEST_RUNNING).running == "test_failover"


def test_enabling_is_replicating_while_its_job_runs() -> None:
    position = stage_of(ENABLING)
    assert (position.stage, position.running) == ("replicating", "enable")
    assert not reached(position, "replicating")


def test_an_enable_job_running_before_the_item_is_listed() -> None:
    position = stage_of(None, job("j-1", "EnableDr", "InProgress"))
    assert (position.stage, position.running) == ("ready", "enable")


def test_a_finished_current_job_is_not_followed() -> None:
    # currentScenario still names the job, but the job says Succeeded: the item's state decides.
    done = item(allowed=REPLICATED["properties"]["allowedOperations"], point=True, scenario="EnableDr", job="j-en")
    position = stage_of(done, job("j-en", "EnableDr", "Succeeded"))
    assert (position.stage, position.running) == ("replicated", None)


@pytest.mark.parametrize(
    ("facts", "scenario", "blocked_at"),
    [
        (None, "EnableDr", "ready"),
        (REPLICATED, "TestFailover", "replicated"),
        (TEST_MIGRATED, "TestFailoverCleanup", "test-migrated"),
        (TESTED, "UnplannedFailover", "tested"),
        (FAILED_OVER, "CommitFailover", "tested"),
        (COMMITTED, "DisableDr", "migrated"),
    ],
)
def test_a_failed_job_blocks_with_azures_error_and_fix(facts: Any, scenario: str, blocked_at: str) -> None:
    failed = job("j-x", scenario, "Failed", code="E123", message="it broke", recommendedAction="do this")
    position = stage_of(facts, failed)
    assert position.stage == "blocked"
    assert position.effective_stage == blocked_at
    assert "E123: it broke" in position.reason and position.fix == "do this"


def test_a_failed_job_the_server_has_moved_past_does_not_block() -> None:
    old = job("j-old", "TestFailover", "Failed", code="E1", message="m")
    assert stage_of(TESTED, old).stage == "tested"


def test_a_failed_job_without_service_details_uses_provider_or_task_errors() -> None:
    failed = job("j-p", "TestFailover", "Failed")
    failed["properties"]["tasks"] = [
        {"errors": [{"providerErrorDetails": {"errorCode": 7, "errorMessage": "disk", "recommendedAction": "fix it"}}]}
    ]
    position = stage_of(REPLICATED, failed)
    assert "7: disk" in position.reason and position.fix == "fix it"
    bare = stage_of(REPLICATED, job("j-q", "TestFailover", "Cancelled"))
    assert bare.stage == "blocked" and "Cancelled" in bare.reason and bare.fix


def test_an_unhealthy_replication_says_why() -> None:
    stalled = item(
        allowed=("DisableProtection",),
        progress=40,
        health="Critical",
        health_errors=[{"errorCode": "78122", "summaryMessage": "no data", "recommendedAction": "check DNS"}],
    )
    position = stage_of(stalled)
    assert position.stage == "replicating" and "78122" in position.reason and position.fix == "check DNS"
    assert position.health == "Critical"


def test_a_namesake_vm_not_ours_blocks_the_enable() -> None:
    position = stage_of(None, None, vm_exists=False, foreign_vm=True)
    assert position.stage == "blocked" and "already exists" in position.reason
    for target in ORDER[1:]:
        assert next_action(position, target).kind == "stuck"
    ours, others = lc.migrated_vms(
        [{"id": "/VMS/A", "tags": {"managed-by": "plmigrate", "x": "1"}}, {"id": "/vms/b", "tags": {}}],
        {"managed-by": "plmigrate"},
    )
    assert (ours, others) == ({"/vms/a"}, {"/vms/b"})


def test_removal_in_progress_is_still_migrated() -> None:
    position = stage_of(None, job("j-rm", "DisableDr", "InProgress"))
    assert (position.stage, position.running) == ("migrated", "remove")


# -- next_action: every settled state against every target ---------------------------------------------------

EXPECTED_ACTION = {
    # settled state -> the action it needs when the target lies beyond it
    "absent": "enable",
    "replicating": "wait",
    "replicated": "test_failover",
    "test-migrated": "test_failover_cleanup",
    "tested": "unplanned_failover",
    "failed-over": "commit",
    "committed": "remove",
    "removed": None,
}


@pytest.mark.parametrize(("name", "target"), list(itertools.product(SETTLED, ORDER)))
def test_next_action_for_every_state_and_target(name: str, target: lc.Stage) -> None:
    facts, vm, stage, pending = SETTLED[name]
    position = stage_of(facts, None, vm_exists=vm)
    decision = next_action(position, target)
    beyond = lc.rank(target) > lc.rank(stage) or (pending and lc.rank(target) >= lc.rank("migrated"))
    if not beyond:
        assert decision.kind == "done"
        assert reached(position, target)
        return
    assert not reached(position, target)
    expected = EXPECTED_ACTION[name]
    if expected == "wait":
        assert decision.kind == "wait"
    else:
        assert (decision.kind, decision.action) == ("act", expected)


@pytest.mark.parametrize("target", ORDER)
def test_a_running_job_always_means_wait(target: lc.Stage) -> None:
    for facts in (ENABLING, TEST_RUNNING):
        assert next_action(stage_of(facts), target).kind == "wait"


def test_an_action_azure_does_not_allow_is_not_issued() -> None:
    position = stage_of(REPLICATED)
    decision = next_action(position, "test-migrated", allowed=["DisableProtection"])
    assert decision.kind == "stuck" and "TestFailover" in decision.reason


def test_cutover_waits_for_approval_and_window() -> None:
    for facts in (TESTED, FAILED_OVER, COMMITTED):
        decision = next_action(stage_of(facts), "completed", cutover_allowed=False)
        assert decision.kind == "stuck" and "cutover" in decision.reason
    # Test migration is not cutover: it needs no approval.
    assert next_action(stage_of(REPLICATED), "completed", cutover_allowed=False).action == "test_failover"


def test_a_failed_job_is_retried_on_a_new_run_but_not_in_the_same_one() -> None:
    failed = stage_of(REPLICATED, job("j-f", "TestFailover", "Failed", code="E", message="m"))
    assert next_action(failed, "tested") == lc.Next("act", "test_failover")
    assert next_action(failed, "tested", attempted=["test_failover"]).kind == "stuck"
    # A blocked server that has its target already needs nothing.
    assert next_action(failed, "replicated").kind == "done"


def test_a_failed_enable_with_its_item_left_is_enabled_again_on_a_new_run() -> None:
    left = item(allowed=("DisableProtection",), progress=0)
    left["properties"]["protectionState"] = "EnablingFailed"
    position = stage_of(left, job("j-e", "EnableDr", "Failed", code="E", message="m"))
    assert (position.stage, position.effective_stage) == ("blocked", "ready")
    assert next_action(position, "replicated") == lc.Next("act", "enable")
    assert next_action(position, "replicated", attempted=["enable"]).kind == "stuck"


def test_a_failed_test_failover_is_cleaned_up_before_it_is_tried_again() -> None:
    failed_test = item(allowed=("TestFailoverCleanup",), progress=100, point=True, test_state="Failed")
    position = stage_of(failed_test, job("j-t", "TestFailover", "Failed", code="E9", message="boot"))
    assert (position.stage, position.effective_stage, position.cleanup_due) == ("blocked", "replicated", True)
    assert "E9: boot" in position.reason
    assert next_action(position, "tested") == lc.Next("act", "test_failover_cleanup")
    assert next_action(position, "tested", attempted=["test_failover"]).kind == "stuck"
    # Read without the job (older than the jobs read): still not test-migrated, cleanup first.
    bare = stage_of(failed_test)
    assert bare.stage == "replicated" and next_action(bare, "test-migrated").action == "test_failover_cleanup"


def test_a_failed_enable_without_an_item_is_retried_on_a_new_run() -> None:
    position = stage_of(None, job("j-e", "EnableDr", "Failed", code="E", message="m"))
    assert next_action(position, "replicating") == lc.Next("act", "enable")


def test_a_server_only_moves_forward() -> None:
    # Whatever the target, no decision ever takes a server back a stage.
    backwards = {"test_failover_cleanup": "test-migrated"}
    for name, target in itertools.product(SETTLED, ORDER):
        facts, vm, _, _ = SETTLED[name]
        decision = next_action(stage_of(facts, None, vm_exists=vm), target)
        if decision.action in backwards:
            assert lc.rank(target) > lc.rank(backwards[decision.action])


def test_stage_names() -> None:
    assert lc.parse_stage("Test_Migrated") == "test-migrated"
    with pytest.raises(ValueError, match="use one of"):
        lc.parse_stage("done")
    assert lc.stages_between("replicated", "migrated") == ["test-migrated", "tested", "migrated"]
    assert lc.rank("blocked") < lc.rank("ready")
    assert Position("blocked", "r", resume="tested").effective_stage == "tested"


# -- cutover windows -------------------------------------------------------------------------------------

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
WEEKEND_NIGHTS = [lc.Window(("fri", "sat"), dt.time(22, 0), dt.time(6, 0))]


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (dt.datetime(2026, 12, 4, 23, 0, tzinfo=PARIS), True),  # Friday 23:00
        (dt.datetime(2026, 12, 5, 5, 59, tzinfo=PARIS), True),  # Saturday 05:59: Friday's window
        (dt.datetime(2026, 12, 5, 6, 0, tzinfo=PARIS), False),  # closes at 06:00
        (dt.datetime(2026, 12, 6, 5, 0, tzinfo=PARIS), True),  # Sunday 05:00: Saturday's window
        (dt.datetime(2026, 12, 6, 22, 30, tzinfo=PARIS), False),  # Sunday night: not declared
        (dt.datetime(2026, 12, 1, 12, 0, tzinfo=PARIS), False),  # Tuesday noon
    ],
)
def test_window_membership(when: dt.datetime, inside: bool) -> None:
    assert lc.check_window(WEEKEND_NIGHTS, when).inside is inside


def test_outside_a_window_names_the_next_one() -> None:
    check = lc.check_window(WEEKEND_NIGHTS, dt.datetime(2026, 12, 1, 12, 0, tzinfo=PARIS))
    assert check.next_opens == dt.datetime(2026, 12, 4, 22, 0, tzinfo=PARIS)
    assert "Fri 2026-12-04T22:00+01:00" in check.describe()
    inside = lc.check_window(WEEKEND_NIGHTS, dt.datetime(2026, 12, 4, 23, 0, tzinfo=PARIS))
    assert inside.closes == dt.datetime(2026, 12, 5, 6, 0, tzinfo=PARIS)
    assert not lc.check_window([], dt.datetime(2026, 12, 1, tzinfo=PARIS)).inside
    assert "none is declared" in lc.check_window([], dt.datetime(2026, 12, 1, tzinfo=PARIS)).describe()


def test_a_same_day_window() -> None:
    window = [lc.Window(("sun",), dt.time(9, 0), dt.time(17, 0))]
    assert lc.check_window(window, dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)).inside
    assert not lc.check_window(window, dt.datetime(2026, 12, 6, 17, 0, tzinfo=dt.UTC)).inside


# -- matching items and jobs --------------------------------------------------------------------------------


def test_items_match_by_name_or_by_discovered_machine() -> None:
    named = item(name="srv-01", machine="/machines/a")
    portal = item(name="portal-given-name", machine="/machines/b")
    found, problems = lc.match_items(
        ["SRV-01", "srv-02", "srv-03"], {"srv-02": "/Machines/B", "srv-03": "/machines/c"}, [named, portal]
    )
    assert found == {"SRV-01": named, "srv-02": portal} and problems == {}


def test_a_server_replicated_twice_is_a_problem_not_a_guess() -> None:
    one, two = item(name="srv-01", machine="/machines/a"), item(name="other", machine="/machines/a")
    found, problems = lc.match_items(["srv-01"], {"srv-01": "/machines/a"}, [one, two])
    assert found == {} and "more than once" in problems["srv-01"]


def test_latest_job_per_item() -> None:
    jobs = [
        job("a", "TestFailover", "Failed", start="2026-12-01T09:00:00Z"),
        job("b", "TestFailover", "Succeeded", start="2026-12-01T10:00:00Z"),
        job("c", "EnableDr", "Succeeded", target="srv-02", start="2026-12-01T08:00:00Z"),
        {"name": "d", "properties": {"scenarioName": "RefreshFabric", "targetObjectName": "srv-01"}},
    ]
    latest = lc.latest_jobs(jobs)
    assert latest["srv-01"]["name"] == "b" and latest["/items/srv-02"]["name"] == "c"
    assert lc.job_name("https://host/x/operationResults/j-77?api-version=1") == "j-77"
    assert lc.job_name(None) is None


# -- bodies ----------------------------------------------------------------------------------------------


def test_enable_body_is_rest_shaped_inmagercm() -> None:
    spec = lc.EnableSpec(
        machine_id="/m",
        process_server_id="ps-1",
        policy_id="/policies/p",
        log_storage_account_id="/storage/cache",
        disk_type="Standard_LRS",
        target_resource_group_id="/rg",
        target_network_id="/vnet",
        target_subnet="snet",
        test_network_id="/test-vnet",
        test_subnet="snet-test",
        vm_name="srv-01",
        vm_size="Standard_D4s_v5",
        license_type="WindowsServer",
        tags=(("managed-by", "plmigrate"),),
    )
    body = lc.enable_body(spec)
    details = body["properties"]["providerSpecificDetails"]
    assert body["properties"]["policyId"] == "/policies/p"
    assert details["instanceType"] == "InMageRcm" and details["fabricDiscoveryMachineId"] == "/m"
    assert details["disksDefault"] == {"logStorageAccountId": "/storage/cache", "diskType": "Standard_LRS"}
    assert details["targetVmTags"] == [{"tagName": "managed-by", "tagValue": "plmigrate"}]
    assert details["targetVmSize"] == "Standard_D4s_v5" and details["licenseType"] == "WindowsServer"
    bare = lc.enable_body(lc.EnableSpec(**{**spec.__dict__, "vm_size": None, "license_type": None}))
    assert "targetVmSize" not in bare["properties"]["providerSpecificDetails"]


def test_action_bodies() -> None:
    tfo = lc.test_failover_body("/test-vnet")["properties"]
    assert tfo["networkType"] == "VmNetworkAsInput" and tfo["networkId"] == "/test-vnet"
    ufo = lc.unplanned_failover_body()["properties"]
    assert ufo["providerSpecificDetails"]["performShutdown"] == "true"
    assert ufo["failoverDirection"] == "PrimaryToRecovery"
    assert lc.remove_body() == {"properties": {"disableProtectionReason": "MigrationComplete"}}
    assert lc.test_vm_name("srv-01") == "srv-01-test"


# -- the business unit's migration section and the inventory's lifecycle columns ----------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_the_finance_example_declares_its_migration() -> None:
    bu = load_business_unit(ROOT / "deployments" / "finance.yaml")
    assert bu.migration is not None
    assert bu.migration.test_network.vnet == "vnet-finance-test"
    assert bu.migration.test_network.subnet_for("snet-fin-web").subnet == "snet-fin-web"
    assert bu.migration.cutover.time_zone == "America/New_York"
    days, start, end = bu.migration.cutover.windows[0].as_times()
    assert (days, start, end) == (("fri", "sat"), dt.time(22, 0), dt.time(6, 0))
    assert bu.migration.timeouts.for_kind("initial_replication") == 86400


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"cutover": {"time_zone": "Mars/Olympus"}}, "is not a time zone"),
        ({"cutover": {"windows": [{"days": ["fri"], "start": "25:00", "end": "06:00"}]}}, "HH:MM"),
        ({"cutover": {"windows": [{"days": ["someday"], "start": "22:00", "end": "06:00"}]}}, "days"),
        ({"cutover": {"windows": [{"days": [], "start": "22:00", "end": "06:00"}]}}, "days"),
        ({"timeouts": {"poll_seconds": 0}}, "poll_seconds"),
        ({"test_network": {"resource_group": "rg"}}, "test_network.vnet"),
        ({"colour": "blue"}, "unknown field"),
    ],
)
def test_a_bad_migration_section_is_an_input_error(change: dict[str, Any], expected: str) -> None:
    data = yaml.safe_load((ROOT / "deployments" / "finance.yaml").read_text())
    for key, value in change.items():
        data["migration"][key] = value
    with pytest.raises(InputError) as error:
        BusinessUnit.parse(data)
    assert any(expected in p and p.startswith("migration.") for p in error.value.problems), error.value.problems


def test_day_names_are_tolerant() -> None:
    window = CutoverWindow(days=["Friday", "SAT"], start="9:30", end="17:00")
    assert window.as_times() == (("fri", "sat"), dt.time(9, 30), dt.time(17, 0))


def test_inventory_lifecycle_columns(tmp_path: Path) -> None:
    bu = load_business_unit(ROOT / "deployments" / "finance.yaml")
    header = (
        "server,source_type,appliance,replication_account,target_resource_group,target_vnet,target_subnet,"
        "business_unit,wave,target_vm_size,license_type,test_vnet,test_subnet\n"
    )
    common = "vmware,appliance-fin-01,stfinrepl01,rg-finance-servers,vnet-hub-eastus,snet-fin-web,finance,wave-01"
    good = tmp_path / "good.csv"
    good.write_text(header + f"a,{common},Standard_D4s_v5,Windows Server,vnet-iso,snet-iso\nb,{common},,,,\n")
    a, b = load_inventory(good, bu)
    assert (a.target_vm_size, a.license_type, a.test_vnet, a.test_subnet) == (
        "Standard_D4s_v5",
        "WindowsServer",
        "vnet-iso",
        "snet-iso",
    )
    assert (b.target_vm_size, b.license_type, b.test_vnet) == (None, None, None)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"c,{common},D4 s v5,BYOL,,\nd,{common},,,vnet-iso,\n")
    with pytest.raises(InputError) as error:
        load_inventory(bad, bu)
    text = "\n".join(error.value.problems)
    assert "row 2, column target_vm_size" in text
    assert "row 2, column license_type" in text
    assert "row 3, column test_subnet: test_vnet and test_subnet go together" in text


# -- the command line refuses before anything runs (exit 2, nothing read or written) ----------------------------


def _bu_file(tmp_path: Path, windows: list[dict[str, Any]] | None, migration: bool = True) -> Path:
    data = yaml.safe_load((ROOT / "deployments" / "finance.yaml").read_text())
    if not migration:
        del data["migration"]
    elif windows is not None:
        data["migration"]["cutover"]["windows"] = windows
    path = tmp_path / "finance.yaml"
    path.write_text(yaml.safe_dump(data))
    (tmp_path / "waves").mkdir()
    (tmp_path / "waves" / "finance.csv").write_text((ROOT / "deployments" / "waves" / "finance.csv").read_text())
    return path


ALWAYS = [{"days": list(lc.WEEKDAYS), "start": "00:00", "end": "00:00"}]


@pytest.mark.parametrize(
    ("argv", "windows", "expected"),
    [
        (["--to", "migrated"], ALWAYS, "--change: --to migrated is a cutover and needs an approved change ticket"),
        (["--to", "completed"], ALWAYS, "--change"),
        (["--to", "migrated", "--change", "CHG-1"], [], "outside the cutover windows, and none is declared"),
        (
            ["--to", "completed", "--change", "CHG-1"],
            [{"days": [lc.WEEKDAYS[(dt.datetime.now(dt.UTC).weekday() + 3) % 7]], "start": "12:00", "end": "12:01"}],
            "outside the cutover windows; the next opens",
        ),
        (["--to", "sideways"], ALWAYS, "unknown stage 'sideways'"),
    ],
)
def test_cutover_refusals_exit_2_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], windows: Any, expected: str
) -> None:
    from plmigrate.cli import main

    bu = _bu_file(tmp_path, windows)
    # No sandbox info file exists: reaching any Azure call would be a different error.
    try:
        code = main(["wave", str(bu), "wave-01", "--sandbox", str(tmp_path / "absent.json"), *argv])
    except SystemExit as exit_:  # argparse's own refusal
        code = int(exit_.code or 0)
    assert code == 2
    assert expected in capsys.readouterr().err


def test_a_stage_past_ready_needs_the_migration_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from plmigrate.cli import main

    bu = _bu_file(tmp_path, None, migration=False)
    assert main(["wave", str(bu), "wave-01", "--to", "replicating", "--sandbox", str(tmp_path / "x.json")]) == 2
    assert "migration: --to replicating needs the business unit's migration section" in capsys.readouterr().err


def test_refusals_name_the_next_window() -> None:
    windows = [lc.Window(("fri",), dt.time(22, 0), dt.time(6, 0))]
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    problems = lc.cutover_refusals("migrated", "CHG-9", windows, now)
    assert problems == [
        "cutover window: outside the cutover windows; the next opens Fri 2026-12-04T22:00-05:00 and closes "
        "2026-12-05T06:00-05:00 — run then, or declare a window under migration.cutover"
    ]
    assert lc.cutover_refusals("tested", None, [], now) == []  # test migration is no cutover
    assert lc.cutover_refusals("migrated", None, windows, now.replace(day=4, hour=23), interactive=True) == []


# -- the run's decisions on what it read: preflight verdicts, positions, due writes, waits, rows ------------

SUB = "00000000-0000-0000-0000-000000000001"
SITE = lc.ApplianceSite(
    "app-1",
    fabric="fab-1",
    container="cont-1",
    process_server_id="ps-1",
    policy_id="/policies/p",
    vmware_site_id="/sites/vmware",
    physical_site_id="/sites/physical",
    agents=(("bios-1", "srv-01"),),
)
UNREGISTERED = lc.ApplianceSite(
    "app-2", problem="appliance app-2 is not registered with the vault", fix="register it", on_appliance=True
)
BAD_POLICY = lc.ApplianceSite(
    "app-3",
    fabric="fab-3",
    container="c-3",
    problem="replication policy x is not in the vault",
    fix="correct migration.policy",
)


def server(name: str, appliance: str = "app-1", **changes: str) -> Any:
    from plmigrate.inventory import Server

    fields = {
        "server": name,
        "source_type": "vmware",
        "appliance": appliance,
        "replication_account": "stfinrepl01",
        "target_resource_group": "rg-target",
        "target_vnet": "vnet-prod",
        "target_subnet": "snet-app",
        "business_unit": "finance",
        "wave": "wave-01",
        **changes,
    }
    return Server(**fields)


def machine(name: str, bios: str = "", agent: bool = True) -> dict[str, Any]:
    props = {"displayName": name, "biosId": bios, "mobilityAgent": {"installed": agent}}
    return {"id": f"/sites/vmware/machines/{name}", "properties": props}


def vnet(
    rg: str, name: str, subnets: tuple[str, ...] = ("snet-app",), peers: tuple[str, ...] = (), sub: str = SUB
) -> dict[str, Any]:
    vid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{name}"
    peerings = [{"properties": {"remoteVirtualNetwork": {"id": p}}} for p in peers]
    return {
        "id": vid,
        "name": name,
        "properties": {"subnets": [{"name": s} for s in subnets], "virtualNetworkPeerings": peerings},
    }


PROD = vnet("rg-net", "vnet-prod")
TEST = vnet("rg-net", "vnet-test")


def verdicts(
    servers: list[Any],
    *,
    sites: dict[str, lc.ApplianceSite] | None = None,
    vnets: list[dict[str, Any]] | None = None,
    groups: dict[str, bool] | None = None,
    test: dict[str, Any] = TEST,
    needs_test: bool = True,
) -> lc.Verdicts:
    listed = {str(v["id"]).lower(): v for v in (vnets if vnets is not None else [PROD, TEST])}
    return lc.judge_preflight(
        servers,
        SUB,
        sites or {"app-1": SITE, "app-2": UNREGISTERED, "app-3": BAD_POLICY},
        {"/sites/vmware": [machine(s.name) for s in servers if s.name != "srv-lost"]},
        groups or {"rg-target": True},
        listed,
        {s.name: (str(test["id"]), "snet-app") for s in servers},
        needs_test,
    )


def test_preflight_finds_each_servers_machine_and_target_vnet() -> None:
    found = verdicts([server("srv-01"), server("srv-02")])
    assert found.held == {}
    assert found.machine_ids == {"srv-01": "/sites/vmware/machines/srv-01", "srv-02": "/sites/vmware/machines/srv-02"}
    assert found.vnet_ids == {"srv-01": PROD["id"], "srv-02": PROD["id"]}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: verdicts([server("srv-01", appliance="app-2")]), "not registered with the vault"),
        (lambda: verdicts([server("srv-01", appliance="app-3")]), "replication policy x"),
        (lambda: verdicts([server("srv-lost")]), "not discovered by appliance app-1"),
        (lambda: verdicts([server("srv-01", target_resource_group="rg-nope")]), "target resource group rg-nope"),
        (lambda: verdicts([server("srv-01", target_vnet="vnet-nope")]), f"not in subscription {SUB}"),
        (
            lambda: verdicts([server("srv-01")], vnets=[PROD, TEST, vnet("rg-other", "vnet-prod")]),
            "2 VNets are named vnet-prod (resource groups rg-net, rg-other)",
        ),
        (lambda: verdicts([server("srv-01", target_subnet="snet-nope")]), "target subnet snet-nope"),
        (lambda: verdicts([server("srv-01")], vnets=[PROD]), "test network"),
        (lambda: verdicts([server("srv-01")], test=PROD, vnets=[PROD]), "is the production VNet"),
        (
            lambda: verdicts([server("srv-01")], vnets=[PROD, vnet("rg-net", "vnet-test", peers=(str(PROD["id"]),))]),
            "is peered to target VNet",
        ),
    ],
)
def test_each_preflight_problem_holds_its_server_with_a_fix(make: Any, expected: str) -> None:
    held = make().held
    assert list(held) in (["srv-01"], ["srv-lost"])
    reason, fix = next(iter(held.values()))
    assert expected in reason and fix


def test_preflight_problems_hold_only_the_servers_they_concern() -> None:
    servers = [server("srv-01"), server("srv-02", appliance="app-2"), server("srv-03", target_subnet="snet-x")]
    found = verdicts(servers)
    assert sorted(found.held) == ["srv-02", "srv-03"] and "srv-01" in found.machine_ids


def test_the_test_network_is_checked_only_for_a_test_migration_or_later() -> None:
    assert verdicts([server("srv-01")], vnets=[PROD], needs_test=False).held == {}


def test_a_test_network_of_another_subscription_is_no_target_namesake() -> None:
    elsewhere = vnet("rg-net", "vnet-prod", sub="00000000-0000-0000-0000-000000000002")
    found = verdicts([server("srv-01")], vnets=[PROD, elsewhere], test=elsewhere)
    assert found.vnet_ids == {"srv-01": PROD["id"]} and found.held == {}


def test_status_judges_servers_whose_item_stands_for_their_discovery_on_their_targets_only() -> None:
    # srv-lost was never read from the discovery (its item names its machine), srv-odd's item names
    # none: neither is held for the discovery; the appliance and the target network still count.
    servers = [server("srv-lost"), server("srv-odd", target_subnet="snet-gone"), server("srv-02", appliance="app-2")]
    known = {"srv-lost": "/m/lost", "srv-odd": "", "srv-02": "/m/2"}
    listed = {str(v["id"]).lower(): v for v in (PROD, TEST)}
    tests = {s.name: (str(TEST["id"]), "snet-app") for s in servers}
    sites = {"app-1": SITE, "app-2": UNREGISTERED}
    found = lc.judge_preflight(servers, SUB, sites, {}, {"rg-target": True}, listed, tests, True, known)
    assert found.machine_ids == {"srv-lost": "/m/lost"}
    assert (
        found.held["srv-odd"][0].startswith("target subnet snet-gone") and "not registered" in found.held["srv-02"][0]
    )
    assert "srv-lost" not in found.held
    without = lc.judge_preflight(servers[:1], SUB, sites, {}, {"rg-target": True}, listed, tests, True)
    assert "not discovered" in without.held["srv-lost"][0]  # a run reads the discovery for everyone


def test_each_preflight_problem_holds_back_only_the_writes_it_concerns() -> None:
    servers = [server("srv-01", appliance="app-2"), server("srv-02", target_subnet="snet-x"), server("srv-03")]
    found = verdicts(servers, vnets=[PROD])  # no test network: srv-03's problem
    assert found.blocks == {"srv-01": lc.ALL_ACTIONS, "srv-02": lc.TARGET_ACTIONS, "srv-03": lc.TEST_ACTIONS}
    assert {"enable", "test_failover"} == lc.TEST_ACTIONS and "test_failover_cleanup" not in lc.TARGET_ACTIONS
    assert lc.CUTOVER_ACTIONS.isdisjoint(lc.TEST_ACTIONS) and "unplanned_failover" in lc.TARGET_ACTIONS
    assert verdicts([server("srv-01")], vnets=[PROD], needs_test=False).blocks == {}


def test_a_problem_holds_a_server_only_while_a_write_it_concerns_lies_ahead() -> None:
    positions = {
        "tested": Position("tested", "ready for cutover"),
        "replicating": Position("replicating", "initial replication in progress"),
        "blocked": Position("blocked", "target subnet x is not in y", "create the subnet", resume="ready"),
        "migrated": Position("migrated", "failed over and committed"),
        "pending": Position("tested", "failed over; the commit is next", commit_pending=True),
        "done": Position("completed", "replication removed; the VM is kept"),
    }
    target = ("target subnet x is not in y", "create the subnet")
    test = ("test network t does not exist", "create it")
    held = {**dict.fromkeys(positions, target), "tested": test}
    blocks = {**dict.fromkeys(positions, lc.TARGET_ACTIONS), "tested": lc.TEST_ACTIONS}
    holds = lc.holding(positions, held, blocks, "completed")
    # The tested server's cutover needs no test network; the migrated and pending ones need only
    # writes (remove, commit) no target problem concerns.
    assert sorted(holds) == ["blocked", "replicating"]
    assert sorted(lc.holding(positions, held, {}, "completed")) == [
        "blocked",
        "migrated",
        "pending",
        "replicating",
        "tested",
    ]
    assert lc.holding(positions, held, blocks, "replicating") == {"blocked": target}
    assert lc.writes_ahead(positions["replicating"], "completed") == {
        "test_failover", "test_failover_cleanup", "unplanned_failover", "remove"
    }  # fmt: skip
    assert lc.writes_ahead(positions["pending"], "migrated") == {"commit"}

    reading = lc.Reading({}, {}, positions)
    rows = {r.server: r for r in lc.status_rows(reading, holds, dict.fromkeys(positions, RG))}
    assert rows["replicating"].reason == "initial replication in progress; held: target subnet x is not in y"
    assert rows["replicating"].fix == "create the subnet"
    assert rows["blocked"].reason == target[0]  # a blocked row says it already
    assert rows["tested"].reason == "ready for cutover" and rows["tested"].fix == ""


def test_the_appliances_a_paused_run_waits_for() -> None:
    servers = [server("srv-01", appliance="app-2"), server("srv-02", appliance="app-3")]
    found = verdicts(servers)
    sites = {"app-1": SITE, "app-2": UNREGISTERED, "app-3": BAD_POLICY}
    assert [s.appliance for s in lc.appliances_awaited(sites, found.held)] == ["app-2"]  # a policy is no appliance fix
    assert lc.appliances_awaited(sites, {}) == []
    step = lc.registration_step(UNREGISTERED, "/vaults/v", "/tmp/info.json")
    assert step == "plmigrate sandbox register-appliance --info /tmp/info.json --vault /vaults/v app-2"
    assert lc.registration_step(UNREGISTERED, "/vaults/v") == "register it"
    text = lc.appliance_wait_markdown("wave-01", "/vaults/v", [UNREGISTERED], found.held, 600, "/tmp/info.json")
    assert "app-2" in text and "/vaults/v" in text and step in text and "holds 1 servers: srv-01" in text


def test_the_resolved_appliance_says_which_problems_a_person_fixes_on_the_appliance() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    assert lc.resolve_appliance({"fabrics": []}, "app-1", "/vaults/v", None, now, 900).on_appliance
    fabric = {
        "id": "/fabrics/f",
        "name": "f",
        "properties": {
            "friendlyName": "app-1",
            "customDetails": {
                "instanceType": "InMageRcm",
                "processServers": [{"id": "ps", "health": "Normal", "lastHeartbeatUtc": "2026-12-01T08:00:00Z"}],
            },
        },
    }
    setup = {
        "fabrics": [fabric],
        "containers": [{"id": "/fabrics/f/c", "name": "c"}],
        "mappings": [{"id": "/fabrics/f/c/m", "properties": {"policyId": "/policies/p"}}],
        "policies": [{"id": "/policies/p", "name": "p"}],
    }
    stale = lc.resolve_appliance(setup, "app-1", "/vaults/v", None, now, 900)
    assert "last reported" in stale.problem and stale.on_appliance
    wrong = lc.resolve_appliance(setup, "app-1", "/vaults/v", "other", now, 900)
    assert "not in the vault" in wrong.problem and not wrong.on_appliance


RG = "/subscriptions/s/resourceGroups/rg-target"


def test_one_reading_gives_every_servers_position() -> None:
    items = [
        item(name="srv-01", allowed=("DisableProtection",), progress=10, machine="/m/1"),
        item(name="portal-name", allowed=("DisableProtection",), progress=20, machine="/m/2"),
    ]
    ours = {"id": f"{RG}/providers/Microsoft.Compute/virtualMachines/srv-03", "tags": {"managed-by": "plmigrate"}}
    reading = lc.read_positions(
        ["srv-01", "srv-02", "srv-03", "srv-04"],
        {"srv-02": "/m/2"},
        dict.fromkeys(["srv-01", "srv-02", "srv-03", "srv-04"], RG),
        items,
        [],
        [ours],
        {"managed-by": "plmigrate"},
    )
    stages = {n: p.stage for n, p in reading.positions.items()}
    assert stages == {"srv-01": "replicating", "srv-02": "replicating", "srv-03": "completed", "srv-04": "ready"}
    assert reading.items["srv-02"]["name"] == "portal-name" and reading.duplicates == {}


def test_a_runs_own_knowledge_overrides_what_azure_shows() -> None:
    names = ["dup", "refused", "held", "held-done", "issued"]
    items = [
        item(name="dup", machine="/m/d"),
        item(name="dup-2", machine="/m/d"),
        item(name="refused", allowed=("TestFailover",), point=True),
    ]
    vm = {"id": f"{RG}/providers/Microsoft.Compute/virtualMachines/held-done", "tags": {"k": "v"}}
    reading = lc.read_positions(
        names,
        {"dup": "/m/d"},
        dict.fromkeys(names, RG),
        items,
        [],
        [vm],
        {"k": "v"},
        held={"held": ("no agent", "install it"), "held-done": ("no agent", "install it")},
        refused={"refused": ("test migration refused: Conflict: busy", "see the message")},
        issued={"issued": ("enable", "j-1")},
    )
    p = reading.positions
    assert p["dup"].stage == "blocked" and "more than once" in p["dup"].reason
    assert (p["refused"].stage, p["refused"].resume, p["refused"].fix) == ("blocked", "replicated", "see the message")
    assert (p["held"].stage, p["held"].reason, p["held"].resume) == ("blocked", "no agent", "ready")
    assert p["held-done"].stage == "completed"  # a preflight problem does not undo a finished migration
    assert p["issued"].running == "enable" and p["issued"].stage == "ready"


def test_unmatched_servers_and_the_machines_their_items_name() -> None:
    items = [item(name="srv-01", machine="/m/1"), item(name="portal", machine="/m/2")]
    assert lc.unmatched(["srv-01", "srv-02", "srv-03"], {}, items) == ["srv-02", "srv-03"]
    assert lc.unmatched(["srv-01", "srv-02", "srv-03"], {"srv-02": "/m/2"}, items) == ["srv-03"]
    assert lc.item_machines(["SRV-01", "srv-02"], items) == {"SRV-01": "/m/1"}


def test_due_writes_skip_held_and_duplicated_servers() -> None:
    decisions = {
        "a": lc.Next("act", "enable"),
        "b": lc.Next("act", "enable"),
        "c": lc.Next("act", "test_failover"),
        "d": lc.Next("wait"),
        "e": lc.Next("stuck", "commit", "no"),
    }
    assert lc.due_writes(decisions, {"b": lc.ALL_ACTIONS}, {"c": "twice"}) == {"a": "enable"}
    # A test network problem holds the test failover back, not the cutover.
    cutover = {"a": lc.Next("act", "unplanned_failover"), "b": lc.Next("act", "test_failover")}
    assert lc.due_writes(cutover, dict.fromkeys("ab", lc.TEST_ACTIONS), {}) == {"a": "unplanned_failover"}


def test_cutover_writes_only_for_approved_servers_inside_a_window() -> None:
    due: dict[str, lc.Action] = {"a": "unplanned_failover", "b": "remove", "c": "test_failover"}
    inside = lc.WindowCheck(True, closes=dt.datetime(2026, 12, 1, 23, tzinfo=dt.UTC))
    assert lc.gate_cutover(due, {"a"}, inside) == ({"a": "unplanned_failover", "c": "test_failover"}, {"a"}, "")
    closed = lc.WindowCheck(False)
    writes, approved, why = lc.gate_cutover(due, {"a", "b"}, closed)
    assert writes == {"c": "test_failover"} and approved == set() and "window closed during the run" in why
    assert lc.gate_cutover(due, set(), closed)[2] == ""  # nothing approved: nothing stopped


def test_each_wait_is_bounded_by_the_timeout_of_its_kind() -> None:
    timeouts = {"enable": 10.0, "initial_replication": 100.0}.__getitem__
    replicating = Position("replicating", "initial replication in progress")
    enabling = Position("ready", "enabling", running="enable", running_job="j")
    wait = {"a": lc.Next("wait"), "b": lc.Next("done")}
    began, within = lc.track_waits({}, wait, {"a": enabling, "b": replicating}, set(), 0.0, timeouts)
    assert began == {"a": ("enable", 0.0)} and within
    began, within = lc.track_waits(began, wait, {"a": enabling, "b": replicating}, set(), 11.0, timeouts)
    assert not within  # the enable took longer than its 10 s
    began, within = lc.track_waits(began, wait, {"a": replicating, "b": replicating}, set(), 12.0, timeouts)
    assert began == {"a": ("initial_replication", 12.0)} and within  # a new kind of wait starts its own clock
    began, within = lc.track_waits(
        began, {"a": lc.Next("done"), "b": lc.Next("act")}, {"a": replicating, "b": replicating}, {"b"}, 13.0, timeouts
    )
    assert began == {"b": ("initial_replication", 13.0)} and within  # a write just issued waits too


def test_the_report_says_why_a_server_did_not_arrive() -> None:
    names = ["held", "stuck", "late", "done"]
    positions = {
        "held": Position("replicating", "initial replication in progress"),
        "stuck": Position("tested", "ready for cutover"),
        "late": Position("replicating", "initial replication in progress (40%)"),
        "done": Position("migrated", "failed over and committed"),
    }
    reading = lc.Reading({}, {}, positions)
    decisions = {
        "held": lc.Next("wait"),
        "stuck": lc.Next("stuck", reason="cutover not approved"),
        "late": lc.Next("wait"),
        "done": lc.Next("done"),
    }
    rows = {
        r.server: r
        for r in lc.report_rows(
            reading, decisions, {"held": ("no agent", "install")}, dict.fromkeys(names, RG), "migrated"
        )
    }
    assert rows["held"].reason.endswith("; held: no agent") and rows["held"].fix == "install"
    assert rows["stuck"].reason == "ready for cutover; cutover not approved"
    assert rows["late"].reason.endswith("(still on its way at the timeout; a re-run picks it up)")
    assert rows["done"].reason == "failed over and committed"


def test_stage_counts_keep_the_stages_order_and_the_progress_line_shows_them() -> None:
    from plmigrate.progress import Progress

    counts = lc.stage_counts([Position("blocked", "x"), Position("replicated", "y"), Position("replicating", "z")])
    assert list(counts)[:2] == ["ready", "replicating"] and list(counts)[-1] == "blocked"
    line = Progress(1, 3, counts, "at replicated", "wave-01 to replicated").line()
    assert line == "wave-01 to replicated: replicating 1 · replicated 1 · blocked 1 (1/3 at replicated)"
    assert Progress(5, 10).line() == "5/10 servers recorded"


def test_the_cli_progress_line_refreshes_on_a_terminal_and_logs_each_change_otherwise() -> None:
    import io

    from plmigrate.cli import ProgressLine
    from plmigrate.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    updates = [
        Progress(0, 2, {"ready": 2}, title="w to replicating"),
        Progress(0, 2, {"ready": 2}, title="w to replicating"),
        Progress(1, 2, {"ready": 1, "replicating": 1}, title="w to replicating"),
    ]
    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        shown = ProgressLine(stream)
        for update in [Progress(2, 2, {"ready": 2}, title="w readiness"), *updates]:
            shown(update)
        shown.close()
    assert log.getvalue().splitlines() == [
        "w readiness: ready 2 (2/2 servers recorded)",
        "w to replicating: ready 2 (0/2 servers recorded)",
        "w to replicating: ready 1 · replicating 1 (1/2 servers recorded)",
    ]
    assert tty.getvalue() == (
        "\rw readiness: ready 2 (2/2 servers recorded)\x1b[K\n\rw to replicating: ready 2 (0/2 servers recorded)\x1b[K"
        "\rw to replicating: ready 1 · replicating 1 (1/2 servers recorded)\x1b[K\n"
    )


def test_on_a_terminal_log_lines_go_above_the_progress_line() -> None:
    import io
    import logging

    from plmigrate.cli import ProgressLine
    from plmigrate.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    handler = logging.StreamHandler(tty)
    logger = logging.getLogger("test-progress-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        shown = ProgressLine(tty)
        restore = shown.around_logs()
        shown(Progress(0, 2, {"ready": 2}, title="w"))
        logger.warning("server a: enable refused")
        shown(Progress(1, 2, {"ready": 1, "replicating": 1}, title="w"))
        restore()
        shown.close()
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
    assert tty.getvalue() == (
        "\rw: ready 2 (0/2 servers recorded)\x1b[K"
        "\r\x1b[Kserver a: enable refused\nw: ready 2 (0/2 servers recorded)\x1b[K"
        "\rw: ready 1 · replicating 1 (1/2 servers recorded)\x1b[K\n"
        "after\n"
    )


def test_the_approvers_answer_to_the_cutover_pause() -> None:
    wave = ["fin-web-01", "fin-web-02", "fin-app-01"]
    evidence, chosen = lc.cutover_answer(" CHG1 ", "cab ", "all", True, wave)
    assert (evidence.change, evidence.approver, evidence.refused, chosen) == ("CHG1", "cab", "", set(wave))
    evidence, chosen = lc.cutover_answer("CHG1", "cab", "FIN-WEB-01, fin-app-01,", True, wave)
    assert chosen == {"fin-web-01", "fin-app-01"} and evidence.servers == ["fin-app-01", "fin-web-01"]
    assert lc.cutover_answer("CHG1", "cab", "all", False, wave)[0].refused == "refused by cab"
    assert lc.cutover_answer("  ", "cab", "all", True, wave) == (
        lc.CutoverEvidence(approver="cab", refused="no change ticket"),
        set(),
    )


def test_an_approved_cutover_runs_only_inside_a_window() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    friday_night = [lc.Window(("fri",), dt.time(22), dt.time(6))]
    approved = lc.CutoverEvidence(change="CHG1", approver="cab")
    inside = dt.datetime(2026, 12, 5, 1, 30, tzinfo=zone)  # Saturday 01:30, the Friday window still open
    evidence, chosen = lc.in_window(approved, {"a"}, friday_night, inside)
    assert chosen == {"a"} and evidence.approved_at.startswith("2026-12-05T01:30") and "until" in evidence.window
    evidence, chosen = lc.in_window(approved, {"a"}, friday_night, inside + dt.timedelta(hours=5))
    assert chosen == set() and "the next opens Fri" in evidence.refused
    assert approved.refused == "" and approved.approved_at == ""  # the evidence given is not changed


def test_the_replicas_disk_type_follows_the_replication_account() -> None:
    assert lc.disk_type("Premium_LRS") == "Premium_LRS"
    assert lc.disk_type("Standard_GRS") == lc.disk_type("") == "Standard_LRS"
