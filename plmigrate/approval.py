"""Waiting for a storage account owner's approval: how a run waits, and what it tells people.

Pure decisions, no I/O: whether a run pauses for a Resume in the Prefect UI or re-reads Azure until
the owner acts (`wait_mode`, the one place this is decided), what the waiting run says about each
pending connection (`waiting_line`: the exact `plmigrate sandbox approve` command on the sandbox,
who approves where on Azure), and the record of who resumed the run and why (`ResumeRecord`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from plmigrate.rules import storage_connection_id

WaitMode = Literal["pause", "poll"]


def wait_mode(pause_in_ui: bool, api_url: str | None, deployment_id: str | None) -> WaitMode:
    """ "pause" only when a person can open the Prefect server the run is on: a deployment run
    (started from the UI or a schedule, by a worker of that server) or PREFECT_API_URL set.

    A run started from the terminal without PREFECT_API_URL is on a temporary server that lives
    and dies with the process and has no UI anybody can reach: a pause there could only time out,
    so it re-reads Azure instead (as it does when the business unit turns `pause_in_ui` off)."""
    if not pause_in_ui:
        return "poll"
    return "pause" if (deployment_id or api_url) else "poll"


def approve_command(account_id: str, connection_name: str, sandbox_info_file: str | None) -> str:
    """What the owner runs to approve: on the sandbox, plmigrate's own stand-in for the portal."""
    if sandbox_info_file:
        return f"plmigrate sandbox approve --info {sandbox_info_file} {account_id}"
    subscription, resource_group, account = _parts(account_id)
    connection_id = storage_connection_id(subscription, resource_group, account, connection_name)
    return f"az network private-endpoint-connection approve --id {connection_id}"


def waiting_line(
    account_id: str, connection_name: str, mode: WaitMode, sandbox_info_file: str | None, timeout_seconds: float
) -> str:
    """One log line for a pending connection: which one, who approves it where, and how the run
    notices (a Resume, or re-reading Azure) before the deadline."""
    subscription, resource_group, account = _parts(account_id)
    command = approve_command(account_id, connection_name, sandbox_info_file)
    if sandbox_info_file:
        who = f"approve it as the account's owner: `{command}`"
    else:
        who = (
            f"the owner of storage account {account} (resource group {resource_group}, subscription "
            f"{subscription}) approves it in the Azure portal (storage account → Networking → Private endpoint "
            f"connections → Approve) or with `{command}`"
        )
    then = (
        "then press Resume on this run in the Prefect UI"
        if mode == "pause"
        else "this run re-reads Azure and goes on by itself"
    )
    return (
        f"Connection {connection_name} on storage account {account} is Pending: {who}; {then} "
        f"(waiting up to {timeout_seconds:g} s)"
    )


class ResumeRecord(BaseModel):
    """Who resumed a paused run, what they wrote, and the connections' states Azure then showed."""

    approved_by: str = ""
    note: str = ""
    states: dict[str, str] = {}  # storage account -> connection state after the resume

    def describe(self) -> str:
        who = self.approved_by.strip() or "someone (no name given)"
        note = f" ({self.note.strip()})" if self.note.strip() else ""
        return f"resumed by {who}{note}"


def _parts(account_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a storage account's ARM ID."""
    parts = account_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]

    def after(segment: str) -> str:
        index = lowered.index(segment) if segment in lowered else -1
        return parts[index + 1] if 0 <= index < len(parts) - 1 else ""

    return after("subscriptions"), after("resourcegroups"), after("storageaccounts")
