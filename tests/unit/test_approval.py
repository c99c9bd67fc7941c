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
