"""The landing-zone and wave reports: pure rendering of what a run did (or would do)."""

from __future__ import annotations

import pickle

from prefect.utilities.collections import visit_collection

from plmigrate.facts import ConnectionFacts, EndpointFacts, RoleGrant, VaultFacts
from plmigrate.lifecycle import LifecycleReport, ServerStage
from plmigrate.report import AccountReport, LandingZoneReport, Rows, render_markdown
from plmigrate.wave import ServerState, WaveReport

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
ACCOUNT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"


def _endpoint(name: str, target: str, written: bool) -> EndpointFacts:
    return EndpointFacts(
        id=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/{name}",
        name=name,
        resource_group="rg",
        target_id=target,
        group_id="blob",
        subnet_id="subnet",
        dns={"st1.blob.core.windows.net": ["10.0.0.5"]},
        connection=ConnectionFacts(name=name, status="Approved"),
        written=written,
    )


def _report(written: bool, dry_run: bool) -> LandingZoneReport:
    return LandingZoneReport(
        business_unit="finance",
        subscription_id="s",
        region="eastus",
        dry_run=dry_run,
        vault=VaultFacts(id=VAULT, name="v", location="eastus", principal_id="p", written=written),
        vault_endpoint=_endpoint("pe-v", VAULT, written),
        zones=["zone"],
        accounts=[
            AccountReport(
                name="st1",
                id=ACCOUNT,
                role="replication",
                sku="Standard_LRS",
                roles=[
                    RoleGrant(
                        scope=ACCOUNT,
                        role_definition_id="r",
                        role_name="Contributor",
                        assignment_id="a",
                        created=written,
                    )
                ],
                trusted_services_changed=written,
                endpoint=_endpoint("pe-st1", ACCOUNT, written),
            )
        ],
    )


def test_a_run_reports_what_it_changed() -> None:
    text = render_markdown(_report(written=True, dry_run=False))
    assert "| vault |" in text and "| written |" in text
    assert "| st1 | Contributor | granted |" in text
    assert "changes this run: **5**" in text


def test_a_dry_run_says_what_would_change_and_that_nothing_was_written() -> None:
    text = render_markdown(_report(written=True, dry_run=True))
    assert "would be created" in text and "would be granted" in text
    assert "Dry run: **5** resources would be created or changed; nothing was written." in text


def test_a_rerun_that_found_everything_in_place_reports_zero() -> None:
    report = _report(written=False, dry_run=False)
    assert report.writes == 0
    assert "unchanged" in render_markdown(report)


def test_a_failure_says_why_and_the_fix() -> None:
    from plmigrate.errors import InputError, StepFailed
    from plmigrate.report import render_failure

    step = render_failure("Wave wave-01", StepFailed("verify DNS", "vault v", "2 answers wrong", "add a forwarder"))
    assert "# Wave wave-01: failed" in step and "verify DNS" in step and "add a forwarder" in step
    bad = render_failure("Wave wave-01", InputError(["row 2, column wave: bad — fix it", "row 3, column x: bad — y"]))
    assert "nothing was written" in bad and "- row 3, column x: bad — y" in bad
    other = render_failure("Wave wave-01", RuntimeError("boom"))
    assert "`RuntimeError`: boom" in other


def test_a_failure_names_the_file_and_the_fix_for_a_missing_one() -> None:
    from plmigrate.errors import InputError
    from plmigrate.report import MissingFile, render_failure

    problem = "<file>: cannot read it (No such file or directory) — check the path"
    bad = InputError([problem], "deployments/finanse.yaml")
    missing = MissingFile(
        field="Business Unit File",
        given="deployments/finanse.yaml",
        looked_for="/srv/plmigrate/deployments/finanse.yaml",
        root="/srv/plmigrate",
        folder="deployments/",
        nearby=["finance.yaml", "hr.yaml"],
    )
    text = render_failure("Wave wave-01", bad, [missing])
    assert "Invalid input in `deployments/finanse.yaml`; nothing was written" in text
    assert "- `deployments/finanse.yaml`: cannot read it" in text
    assert "no such file at `/srv/plmigrate/deployments/finanse.yaml`" in text
    assert "(relative paths start at the project root, `/srv/plmigrate`)" in text
    assert "In `deployments/` there are `finance.yaml`, `hr.yaml`." in text
    empty = render_failure("Wave wave-01", bad, [missing.model_copy(update={"nearby": []})])
    assert "In `deployments/` there are no .yaml files." in empty


def test_zones_this_run_created_say_so_and_count() -> None:
    import pickle

    from plmigrate.facts import ZoneId

    made = ZoneId("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/z", written=True)
    again = pickle.loads(pickle.dumps(made))  # as Prefect may persist a task's result
    assert again == made and again.written and isinstance(again, str)
    before = _report(written=False, dry_run=False)
    report = before.model_copy(update={"zones": [str(made), "/other-zone"], "zones_created": [str(made)]})
    text = render_markdown(report)
    assert f"| private DNS zone | `{made}` | created |" in text
    assert "| private DNS zone | `/other-zone` | unchanged |" in text
    assert report.writes == before.writes + 1


def _wave(n: int) -> WaveReport:
    states = [
        ServerState(
            server=f"srv-{i:05d}", source_type="vmware", appliance="a", replication_account="r", state="ready",
            reason="ok",
        )
        for i in range(n)
    ]
    return WaveReport(business_unit="finance", wave="wave-01", vault_id=VAULT, servers=states)


def test_a_wave_reports_servers_as_rows_prefect_does_not_walk_into() -> None:
    report = _wave(3)
    assert isinstance(report.servers, Rows) and len(report.servers) == 3
    # Prefect's walk of a flow's return value looks for futures in lists, dicts, dataclasses and
    # models: the rows are one leaf of it, whatever their number.
    visited: list[object] = []
    visit_collection(report, lambda expr: visited.append(expr) or expr, return_data=False)
    assert report.servers in visited and not any(isinstance(v, ServerState) for v in visited)


def test_a_waves_lifecycle_servers_are_rows_too() -> None:
    report = _wave(3)
    report.lifecycle = LifecycleReport(
        business_unit="finance",
        wave="wave-01",
        to="replicating",
        servers=[ServerStage(server=f"srv-{i}", stage="replicating", reason="initial replication") for i in range(3)],
    )
    assert isinstance(report.lifecycle.servers, Rows) and report.lifecycle.counts["replicating"] == 3
    visited: list[object] = []
    visit_collection(report, lambda expr: visited.append(expr) or expr, return_data=False)
    assert report.lifecycle.servers in visited and not any(isinstance(v, ServerStage) for v in visited)
    assert WaveReport.model_validate_json(report.model_dump_json()) == report
    assert LifecycleReport(business_unit="b", wave="w", to="ready").servers == []


def test_rows_read_like_a_list_and_round_trip_through_json_and_pickle() -> None:
    report = _wave(3)
    servers = list(report.servers)
    assert report.servers == servers and report.servers[1].server == "srv-00001"
    assert report.servers[:2] == servers[:2] and isinstance(report.servers[:2], list)
    assert [s.server for s in report.servers] == ["srv-00000", "srv-00001", "srv-00002"]
    assert report.model_dump()["servers"][0]["server"] == "srv-00000"
    assert WaveReport.model_validate_json(report.model_dump_json()) == report
    assert pickle.loads(pickle.dumps(report)) == report
    assert WaveReport.model_json_schema()["properties"]["servers"]["type"] == "array"
    assert WaveReport(business_unit="b", wave="w", vault_id=VAULT).servers == []
