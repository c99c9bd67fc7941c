"""Step 5: a private endpoint's connection to a storage account must be Approved before
replication can use it. These tasks read its state, approve it ourselves where the policy allows
and Azure permits, or wait for the account's owner to do it."""

from __future__ import annotations

import time

from azure.core.exceptions import HttpResponseError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, arm_error, clients, is_transient, rest
from plmigrate.facts import EndpointFacts
from plmigrate.model import StorageAccountRef
from tasks.network import read_private_endpoint
from tasks.retrying import ARM_RETRIES


@task(name="find-account-connection", cache_policy=NO_CACHE, **ARM_RETRIES)
def find_account_connection(target: Target, account: StorageAccountRef, endpoint: EndpointFacts) -> str:
    """The name the storage account gives our endpoint's connection (what the owner approves)."""
    az = clients(target)
    for conn in az.storage.private_endpoint_connections.list(account.resource_group, account.name):
        props = rest(conn).get("properties") or {}
        if (props.get("privateEndpoint") or {}).get("id", "").lower() == endpoint.id.lower():
            return conn.name
    return endpoint.connection.name


@task(name="self-approve-connection", cache_policy=NO_CACHE, **ARM_RETRIES)
def self_approve_connection(target: Target, account: StorageAccountRef, connection_name: str) -> bool:
    """Approve our own endpoint's connection on the account; False when Azure does not permit it."""
    az = clients(target)
    logger = get_run_logger()
    body = {
        "properties": {
            "privateLinkServiceConnectionState": {
                "status": "Approved",
                "description": "Approved by plmigrate for Azure Migrate replication",
            }
        }
    }
    try:
        az.storage.private_endpoint_connections.put(account.resource_group, account.name, connection_name, body)
    except HttpResponseError as exc:
        if exc.status_code == 403:
            logger.warning(
                "Not permitted to approve on %s (%s); the owner must approve", account.name, arm_error(exc)[0]
            )
            return False
        raise
    logger.info("Approved connection %s on storage account %s", connection_name, account.name)
    return True


@task(name="await-connection-approval", cache_policy=NO_CACHE)
def await_connection_approval(
    target: Target, endpoints: dict[str, EndpointFacts], timeout_seconds: float, poll_seconds: float
) -> dict[str, EndpointFacts]:
    """Re-read each endpoint (by storage account name) until its connection leaves Pending or the
    one deadline passes; the endpoints as Azure last showed them. A transient read error is
    logged and the wait goes on: the owner's approval is what this waits for, not one read."""
    logger = get_run_logger()
    deadline = time.monotonic() + timeout_seconds
    current = dict(endpoints)
    started = time.monotonic()

    def pending() -> list[str]:
        return [name for name, e in current.items() if e.connection.status == "Pending"]

    while pending() and time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
        for name in pending():
            try:
                current[name] = read_private_endpoint.fn(target, endpoints[name])
            except Exception as exc:
                if not is_transient(exc):
                    raise
                logger.warning("Could not read %s (%s: %s); trying again", endpoints[name].id, *arm_error(exc))
                continue
            status = current[name].connection.status
            if status != "Pending":
                logger.info(
                    "Connection %s on storage account %s is %s (after %.0f s)",
                    current[name].connection.name,
                    name,
                    status,
                    time.monotonic() - started,
                )
    for name in pending():
        logger.warning("Connection on storage account %s is still Pending after %g s", name, timeout_seconds)
    return current


def approval_failure_reason(account: str, status: str, timeout_seconds: float) -> str:
    """Why an account's connection stops the run: still Pending when the wait ran out is a wait
    that ended, not a connection that broke (the fix is rules.rejected_message's)."""
    if (status or "").strip().lower() == "pending":
        return (
            f"the connection to storage account {account} was still Pending when the approval wait "
            f"({timeout_seconds:.0f} s) ran out"
        )
    return f"the connection to storage account {account} is {status}"
