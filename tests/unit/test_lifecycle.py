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
