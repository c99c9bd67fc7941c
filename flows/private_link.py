"""Prepare a business unit's landing zone for Azure Migrate replication over Private Link.

Microsoft's "Migrate servers to Azure by using Private Link", step by step:
create resources → verify DNS → grant roles → create endpoint → await approval → select cache
account. Every step is an idempotent task, so running this again resumes where a run stopped and
writes nothing where Azure already matches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, pause_flow_run, unmapped
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput
from prefect.task_runners import ThreadPoolTaskRunner

from plmigrate.azure import DEFAULT_SANDBOX_INFO, Target, resolve_target
from plmigrate.errors import InputError, StepFailed
from plmigrate.facts import EndpointFacts, VaultFacts
from plmigrate.model import BusinessUnit, load_business_unit
from plmigrate.report import AccountReport, LandingZoneReport, render_markdown
from plmigrate.rules import (
    ASR_GROUP_ID,
    ASR_ZONE,
    BLOB_GROUP_ID,
    BLOB_ZONE,
    SOURCE_TYPES,
    AccountFacts,
    connection_verdict,
    owner_instructions,
    rejected_message,
    select_cache_account,
    validate_account,
)
from tasks.approval import await_connection_approval, find_account_connection, self_approve_connection
from tasks.dns import verify_dns
from tasks.inspect import inspect_network, inspect_storage_account, inspect_subscription
from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group, read_private_endpoint
from tasks.reporting import failure_published, publish_markdown
from tasks.roles import grant_vault_roles
from tasks.storage import allow_trusted_services
from tasks.vault import ensure_resource_group, ensure_vault


class ConnectionApproval(RunInput):
    """Resume the run once the storage account's owner has approved the private endpoint
    connection(s) listed in the run's "approval" artifact. plmigrate re-checks Azure on resume."""

    approved_by: str = ""
    note: str = ""


def validate_landing_zone(target: Target, bu: BusinessUnit) -> list[AccountFacts]:
    """Every read-only check, all problems at once, before the first write."""
    subscription = inspect_subscription(target, bu.subscription_id, bu.tenant_id)
    if subscription:  # nothing else can be read meaningfully
        raise InputError(subscription, source=f"business unit {bu.name}")
    network = inspect_network.submit(target, bu)
    inspected = inspect_storage_account.map(unmapped(target), bu.storage_accounts).result()
    problems = list(network.result())
    facts: list[AccountFacts] = []
    for ref, found in zip(bu.storage_accounts, inspected, strict=True):
        if isinstance(found, str):
            problems.append(found)
            continue
        problems += [f"storage_accounts[{ref.name}]: {p}" for p in validate_account(found, ref.role, bu.region)]
        facts.append(found)
    if problems:
        raise InputError(problems, source=f"business unit {bu.name}")
    return facts


def create_vault_side(target: Target, bu: BusinessUnit, dry_run: bool) -> tuple[VaultFacts, EndpointFacts, str]:
    """Step 1: vault with identity, its Site Recovery endpoint, the zone and the zone group."""
    ensure_resource_group(target, bu.resource_group, bu.region, bu.tags, dry_run)
    vault = ensure_vault(target, bu.resource_group, bu.vault_name, bu.region, bu.tags, dry_run)
    endpoint = ensure_private_endpoint(
        target, **bu.private_endpoint(bu.vault_name, vault.id, ASR_GROUP_ID), dry_run=dry_run
    )
    ensure_resource_group(target, bu.dns_zone_resource_group, bu.region, bu.tags, dry_run)
    zone_id = ensure_private_dns_zone(
        target,
        resource_group=bu.dns_zone_resource_group,
        zone=ASR_ZONE,
        vnet_ids=bu.zone_link_vnet_ids,
        tags=bu.tags,
        dry_run=dry_run,
    )
    ensure_zone_group(target, endpoint, [zone_id], dry_run)
    return vault, endpoint, zone_id


def _settle(futures: dict[str, Any], failures: dict[str, BaseException]) -> dict[str, Any]:
    """Results of per-account futures; an account whose task failed goes to `failures` instead,
    so one account's trouble does not stop the others."""
    settled: dict[str, Any] = {}
    for name, future in futures.items():
        result = future.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failures.setdefault(name, result)
        else:
            settled[name] = result
    return settled


def create_blob_endpoints(
    target: Target, bu: BusinessUnit, accounts: list[AccountFacts], dry_run: bool, failures: dict[str, BaseException]
) -> tuple[dict[str, EndpointFacts], str]:
    """Step 4: a blob endpoint per account, the blob zone, and each endpoint's zone group."""
    zone = ensure_private_dns_zone.submit(
        target,
        resource_group=bu.dns_zone_resource_group,
        zone=BLOB_ZONE,
        vnet_ids=bu.zone_link_vnet_ids,
        tags=bu.tags,
        dry_run=dry_run,
    )
    submitted = {
        account.name: ensure_private_endpoint.submit(
            target, **bu.private_endpoint(account.name, account.id, BLOB_GROUP_ID), dry_run=dry_run
        )
        for account in accounts
    }
    zone_id = zone.result()  # shared by every account: its failure is the run's
    endpoints = _settle(submitted, failures)
    groups = {n: ensure_zone_group.submit(target, e, [zone_id], dry_run) for n, e in endpoints.items()}
    _settle(groups, failures)
    return {n: e for n, e in endpoints.items() if n not in failures}, zone_id


def _waiting(endpoints: dict[str, EndpointFacts]) -> dict[str, EndpointFacts]:
    return {n: e for n, e in endpoints.items() if connection_verdict(e.connection.status) == "wait"}


def await_approvals(
    target: Target, bu: BusinessUnit, endpoints: dict[str, EndpointFacts], failures: dict[str, BaseException]
) -> dict[str, EndpointFacts]:
    """Step 5: Approved goes on; Pending is self-approved (policy and Azure permitting) or waited
    for (a pause in the Prefect UI, or polling when unattended); Rejected, Disconnected or still
    Pending at the timeout go to `failures`."""
    logger = get_run_logger()
    policy = bu.approval
    pending = _waiting(endpoints)
    if pending and policy.mode == "self_approve":
        for name, endpoint in pending.items():
            ref = bu.storage_account(name)
            if self_approve_connection(target, ref, find_account_connection(target, ref, endpoint)):
                endpoints[name] = read_private_endpoint(target, endpoint)
        pending = _waiting(endpoints)
    if pending:
        instructions = [
            owner_instructions(
                name,
                bu.storage_account(name).resource_group,
                bu.subscription_id,
                find_account_connection(target, bu.storage_account(name), e),
            )
            for name, e in pending.items()
        ]
        publish_markdown(
            f"approval-{bu.name}",
            "\n\n".join(instructions),
            f"Private endpoint connections of {bu.name} awaiting the storage account owner's approval",
        )
        logger.warning("Waiting for the owner to approve: %s", ", ".join(sorted(pending)))
        if policy.pause_in_ui:
            # Each resume re-checks Azure; a resume before the owner approved just pauses again.
            deadline = time.monotonic() + policy.timeout_seconds
            rounds = 0
            while pending and time.monotonic() < deadline:
                rounds += 1
                try:
                    pause_flow_run(
                        wait_for_input=ConnectionApproval,
                        timeout=max(1, int(deadline - time.monotonic())),
                        poll_interval=max(1, int(policy.poll_seconds)),
                        key=f"approval-{rounds}",
                    )
                except FlowPauseTimeout:
                    logger.warning("Nobody resumed the run within %.0f s", policy.timeout_seconds)
                for name in list(pending):
                    endpoints[name] = read_private_endpoint(target, pending[name])
                pending = _waiting(endpoints)
        else:
            for name, endpoint in pending.items():
                endpoints[name] = await_connection_approval(
                    target, endpoint, policy.timeout_seconds, policy.poll_seconds
                )
    for name, endpoint in endpoints.items():
        if connection_verdict(endpoint.connection.status) != "proceed":
            ref = bu.storage_account(name)
            failures.setdefault(
                name,
                StepFailed(
                    step="await approval",
                    resource=endpoint.id,
                    reason=f"the connection to storage account {name} is {endpoint.connection.status}",
                    fix=rejected_message(name, ref.resource_group, endpoint.connection.status, endpoint.id),
                ),
            )
    return {n: e for n, e in endpoints.items() if n not in failures}


def prepare_storage_accounts(
    target: Target,
    bu: BusinessUnit,
    accounts: list[AccountFacts],
    vault: VaultFacts,
    dry_run: bool,
) -> tuple[dict[str, AccountReport], dict[str, BaseException], str]:
    """Steps 3-5 for the accounts given, concurrently. Returns the accounts made ready, the
    accounts that could not be (with why), and the blob zone's ID."""
    failures: dict[str, BaseException] = {}
    # 3. Grant roles to the vault identity; let trusted services through the accounts' firewalls
    grants = {
        a.name: grant_vault_roles.submit(
            target, a, vault.principal_id, bu.timeouts.role_seconds, bu.timeouts.role_retry_seconds, dry_run
        )
        for a in accounts
    }
    trusted = {a.name: allow_trusted_services.submit(target, bu.storage_account(a.name), dry_run) for a in accounts}
    # 4. Create endpoint: blob endpoints and their DNS
    endpoints, blob_zone = create_blob_endpoints(target, bu, accounts, dry_run, failures)
    granted, opened = _settle(grants, failures), _settle(trusted, failures)
    # 5. Await approval (a dry run made nothing, so there is nothing to approve yet)
    ready = {n: e for n, e in endpoints.items() if n not in failures}
    if not dry_run:
        ready = await_approvals(target, bu, ready, failures)
    reports = {
        a.name: AccountReport(
            name=a.name,
            id=a.id,
            role=bu.storage_account(a.name).role,
            sku=a.sku_name,
            roles=granted[a.name],
            trusted_services_changed=opened[a.name],
            endpoint=ready[a.name],
        )
        for a in accounts
        if a.name not in failures
    }
    return reports, failures, blob_zone


def prepare_landing_zone(target: Target, bu: BusinessUnit, dry_run: bool = False) -> LandingZoneReport:
    """The six steps for one business unit; call inside a flow run. A dry run reads everything,
    writes nothing, and reports what a real run would create or change."""
    nameservers = sorted({ns for a in bu.appliances for ns in target.appliance_nameservers(a.endpoints())})
    accounts = validate_landing_zone(target, bu)
    # 1. Create resources (vault side)
    vault, vault_endpoint, asr_zone = create_vault_side(target, bu, dry_run)
    # 2. Verify DNS from the appliance's vantage point
    vault_dns = (
        []
        if dry_run
        else verify_dns(
            vault_endpoint.dns,
            nameservers,
            bu.region,
            bu.timeouts.dns_seconds,
            bu.timeouts.dns_retry_seconds,
            what=f"vault {vault.name}",
        )
    )
    # 3-5. Grant roles, create endpoints, await approval (per storage account)
    account_reports, failures, blob_zone = prepare_storage_accounts(target, bu, accounts, vault, dry_run)
    if failures:
        raise next(iter(failures.values()))
    # 2b. The blob FQDNs must resolve privately too
    if not dry_run:
        checks = verify_dns.map(
            [r.endpoint.dns for r in account_reports.values()],
            unmapped(nameservers),
            unmapped(bu.region),
            unmapped(bu.timeouts.dns_seconds),
            unmapped(bu.timeouts.dns_retry_seconds),
            what=[f"storage account {name}" for name in account_reports],
        ).result()
        for report, dns in zip(account_reports.values(), checks, strict=True):
            report.dns = dns
    # 6. Select cache account for each kind of server per replication account
    candidates = [a for a in accounts if bu.storage_account(a.name).role == "cache"]
    cache_plan = {
        a.name: {source: select_cache_account(source, a, candidates, bu.region) for source in SOURCE_TYPES}
        for a in accounts
        if bu.storage_account(a.name).role == "replication"
    }
    report = LandingZoneReport(
        business_unit=bu.name,
        subscription_id=bu.subscription_id,
        region=bu.region,
        dry_run=dry_run,
        vault=vault,
        vault_endpoint=vault_endpoint,
        zones=[asr_zone, blob_zone],
        vault_dns=vault_dns,
        accounts=list(account_reports.values()),
        cache_plan=cache_plan,
    )
    if not dry_run:
        publish_markdown(f"landing-zone-{bu.name}", render_markdown(report), f"Private Link landing zone of {bu.name}")
    return report


@flow(
    name="private-link-landing-zone",
    task_runner=ThreadPoolTaskRunner(max_workers=8),
    description="Create resources → verify DNS → grant roles → create endpoint → await approval → select cache account",
)
def private_link_landing_zone(
    business_unit_file: str, target: str = f"sandbox:{DEFAULT_SANDBOX_INFO}", dry_run: bool = False
) -> LandingZoneReport:
    """Prepare one business unit's landing zone for replication over Private Link.

    Args:
        business_unit_file: the business-unit YAML file (see deployments/).
        target: `azure` (DefaultAzureCredential) or `sandbox:INFO_FILE`.
        dry_run: read everything and report what would be created or changed; write nothing.
    """
    with failure_published(f"landing-zone-failed-{Path(business_unit_file).stem}", "Private Link landing zone"):
        bu = load_business_unit(business_unit_file)
        return prepare_landing_zone(resolve_target(target, bu.subscription_id).paced(bu.limits), bu, dry_run)


if __name__ == "__main__":
    import sys

    private_link_landing_zone(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else f"sandbox:{DEFAULT_SANDBOX_INFO}")
