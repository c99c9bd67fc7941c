"""How a run waits for an owner's approval (one decision) and what it tells people meanwhile."""

from __future__ import annotations

import pytest

from plmigrate.approval import ResumeRecord, approve_command, wait_mode, waiting_line
from plmigrate.report import render_approval_outcome, table_cell

ACCOUNT = (
    "/subscriptions/00000000-0000-0000-0000-00000000a11e/resourceGroups/rg-storage-finance"
    "/providers/Microsoft.Storage/storageAccounts/stfincache01"
)


@pytest.mark.parametrize(
    ("pause_in_ui", "api_url", "deployment_id", "expected"),
    [
        (True, None, None, "poll"),  # from the terminal: a temporary server nobody can open
        (True, "http://127.0.0.1:4200/api", None, "pause"),  # a server a person can open
        (True, None, "3f1c-deployment", "pause"),  # started from the UI or a schedule
        (True, "", None, "poll"),  # an empty setting is no server
        (False, "http://127.0.0.1:4200/api", "3f1c-deployment", "poll"),  # the business unit says never pause
    ],
)
def test_a_run_pauses_only_where_a_person_can_resume_it(pause_in_ui, api_url, deployment_id, expected) -> None:
    assert wait_mode(pause_in_ui, api_url, deployment_id) == expected


def test_on_the_sandbox_the_waiting_line_gives_the_exact_approve_command() -> None:
    line = waiting_line(ACCOUNT, "pe-stfincache01-blob.1234", "poll", ".sandbox/info.json", 3600)
    assert f"`plmigrate sandbox approve --info .sandbox/info.json {ACCOUNT}`" in line
    assert "pe-stfincache01-blob.1234" in line and "Pending" in line and "re-reads Azure" in line
    assert "3600 s" in line
    assert "press Resume" in waiting_line(ACCOUNT, "c", "pause", ".sandbox/info.json", 60)


def test_against_azure_the_waiting_line_says_who_approves_where() -> None:
    line = waiting_line(ACCOUNT, "pe-stfincache01-blob.1234", "poll", None, 3600)
    assert "owner of storage account stfincache01 (resource group rg-storage-finance" in line
    assert "Azure portal" in line
    assert f"--id {ACCOUNT}/privateEndpointConnections/pe-stfincache01-blob.1234" in line
    assert approve_command(ACCOUNT, "c", None).startswith("az network private-endpoint-connection approve")


def test_the_approval_outcome_names_the_approver_and_the_note() -> None:
    early = ResumeRecord(approved_by="", note="", states={"stfincache01": "Pending"})
    later = ResumeRecord(approved_by="Ada (storage team)", note="ticket 42\nok", states={"stfincache01": "Approved"})
    text = render_approval_outcome(
        "finance", {"stfincache01": ("pe-1", "Approved", f"Approved; run {later.describe()}")}, [early, later]
    )
    assert "Every connection is decided." in text
    assert "| stfincache01 | `pe-1` | Approved | Approved; run resumed by Ada (storage team) (ticket 42 ok) |" in text
    assert "| 1 | — | — | stfincache01: Pending |" in text
    assert "| 2 | Ada (storage team) | ticket 42 ok | stfincache01: Approved |" in text
    assert early.describe() == "resumed by someone (no name given)"


def test_a_table_cell_has_no_line_breaks_or_bare_pipes() -> None:
    assert table_cell("Delete it\nthen re-run | or not") == "Delete it then re-run \\| or not"


def test_a_dry_run_server_is_pending_with_what_it_would_still_need() -> None:
    from plmigrate.facts import ConnectionFacts, EndpointFacts, RoleGrant, VaultFacts
    from plmigrate.report import AccountReport
    from plmigrate.wave import ServerState, as_dry_run

    def endpoint(written: bool, status: str) -> EndpointFacts:
        connection = ConnectionFacts(name="pe", status=status)
        return EndpointFacts(
            id="pe",
            name="pe",
            resource_group="rg",
            target_id="t",
            group_id="blob",
            subnet_id="s",
            connection=connection,
            written=written,
        )

    grant = RoleGrant(scope="s", role_definition_id="r", role_name="Contributor", assignment_id="a", created=True)
    reports = {
        "stfinrepl01": AccountReport(
            name="stfinrepl01", id="a", role="replication", sku="Standard_LRS", endpoint=endpoint(False, "Approved")
        ),
        "stfincache01": AccountReport(
            name="stfincache01",
            id="c",
            role="cache",
            sku="Standard_LRS",
            roles=[grant, grant],
            endpoint=endpoint(False, "Pending"),
        ),
    }
    vault = VaultFacts(id="v", name="rsv-finance-eastus", location="eastus", principal_id="p")
    common = {"source_type": "vmware", "appliance": "app-1", "replication_account": "stfinrepl01"}
    states = [
        ServerState(server="a", cache_account="stfincache01", state="ready", reason="", **common),
        ServerState(server="b", state="blocked", reason="no cache account", **common),
        ServerState(server="c", state="ready", reason="", **common),
    ]
    a, b, c = as_dry_run(states, vault, endpoint(False, "Approved"), reports)
    assert a.state == "pending" and b.state == "blocked" and c.state == "pending"
    assert a.reason == (
        "would still need to: grant 2 roles on stfincache01; await approval of stfincache01's connection, Pending: "
        "its owner must approve it; check DNS from appliance app-1 (not checkable in a dry run)"
    )
    assert c.reason == "would still need to: check DNS from appliance app-1 (not checkable in a dry run)"
    assert a.fix == "run without --dry-run"
