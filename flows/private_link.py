"""Prepare a business unit's landing zone for Azure Migrate replication over Private Link.

Microsoft's "Migrate servers to Azure by using Private Link", step by step:
create resources → verify DNS → grant roles → create endpoint → await approval → select cache
account. Every step is an idempotent task, so running this again resumes where a run stopped and
writes nothing where Azure already matches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger, pause_flow_run, unmapped
from prefect.exceptions import FlowPauseTimeout
from prefect.futures import PrefectFuture
from prefect.input import RunInput
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import opaque
from pydantic import Field

from plmigrate.approval import ResumeRecord, WaitMode, wait_mode, waiting_line
from plmigrate.azure import DEFAULT_SANDBOX_INFO, Target, resolve_target
from plmigrate.errors import InputError, StepFailed
from plmigrate.facts import EndpointFacts, Inspection, RoleGrant, VaultFacts
from plmigrate.form import APPROVED_BY_HELP, BUSINESS_UNIT_HELP, DRY_RUN_HELP, NOTE_HELP, TARGET_HELP, resume_help
from plmigrate.model import ApprovalPolicy, BusinessUnit, load_business_unit
from plmigrate.naming import arm_id
from plmigrate.report import (
    AccountReport,
    LandingZoneReport,
    render_approval_outcome,
    render_approval_request,
    render_markdown,
)
from plmigrate.rules import (
    ASR_GROUP_ID,
    ASR_ZONE,
    BLOB_GROUP_ID,
    BLOB_ZONE,
    SOURCE_TYPES,
    AccountFacts,
    DnsResult,
    connection_verdict,
    owner_instructions,
    rejected_message,
    select_cache_account,
    validate_account,
)
from plmigrate.runtime import freeze_startup_objects
from tasks.approval import (
    approval_failure_reason,
    await_connection_approval,
    find_account_connection,
    self_approve_connection,
)
from tasks.dns import verify_dns
from tasks.inspect import inspect_network, inspect_resource_groups, inspect_storage_account, inspect_subscription
from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group, read_private_endpoint
from tasks.reporting import failure_published, publish_markdown
from tasks.retrying import run_deadline
from tasks.roles import grant_vault_roles
from tasks.storage import allow_trusted_services
from tasks.vault import ensure_resource_group, ensure_vault

# An upstream future handed to a task as a parameter goes in `opaque(...)`: Prefect resolves it
# and still records the dependency (the UI's graph), but does not ask the Prefect server for the
# upstream task run's state when it creates the downstream run (a GET per future, which made the
# zone groups of a converged re-run wait ~0.5 s: docs/performance.md), nor walk the result.
#
# A task waiting for its upstream futures holds a pool thread, and the landing zone submits every
# task up front, so the pool has room for all of them at once: with 8 threads, blob endpoints
# queued behind zone groups and DNS checks that were only waiting. ARM calls in flight are bounded
# by the client's ArmBudget (limits.arm_concurrency), not by this pool.
TASK_THREADS = 64


class ConnectionApproval(RunInput):
    """Resume the run once the storage account's owner has approved the private endpoint
    connection(s) listed in the run's "approval" artifact. plmigrate re-checks Azure on resume."""

    approved_by: str = Field(default="", title="Approved By", description=APPROVED_BY_HELP)
    note: str = Field(default="", title="Note", description=NOTE_HELP)


def validate_landing_zone(target: Target, bu: BusinessUnit) -> Inspection:
    """Every read-only check, all problems at once, before the first write. The reads go out
    together (one round trip on the critical path, not two); a subscription the credential cannot
    see is the one problem reported, as nothing else could be read meaningfully. The resource
    groups are read with them, so that the writes into an existing group start at once."""
    subscription = inspect_subscription.submit(target, bu.subscription_id, bu.tenant_id)
    network = inspect_network.submit(target, bu)
    storage = inspect_storage_account.map(unmapped(target), bu.storage_accounts)
    groups = inspect_resource_groups.submit(target, bu.landing_zone_resource_groups)
    if unseen := subscription.result():
        raise InputError(unseen, source=f"business unit {bu.name}")
    inspected = storage.result()
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
    return Inspection(accounts=facts, resource_groups=groups.result())


@dataclass
class VaultSide:
    """Step 1 under way: every write of the vault side, each submitted to start as soon as what it
    needs exists (vault → its endpoint → the endpoint's zone group; the zone with its links at
    once), and the resource groups being created, which the other writes wait for."""

    groups: dict[str, PrefectFuture[str]]
    vault: PrefectFuture[VaultFacts]
    zone: PrefectFuture[str]
    endpoint: PrefectFuture[EndpointFacts]
    zone_group: PrefectFuture[bool]

    def settle(self) -> tuple[VaultFacts, EndpointFacts, str]:
        """The vault side's facts; raises the first failure in dependency order (the cause, not
        a downstream task that never ran because of it)."""
        for group in self.groups.values():
            group.result()
        vault, zone = self.vault.result(), self.zone.result()
        endpoint = self.endpoint.result()
        self.zone_group.result()
        return vault, endpoint, zone


def _after_group(groups: dict[str, PrefectFuture[str]], name: str) -> list[PrefectFuture[str]]:
    """What a write into resource group `name` waits for: its creation, when it did not exist."""
    return [groups[name]] if name in groups else []


def create_vault_side(target: Target, bu: BusinessUnit, inspection: Inspection, dry_run: bool) -> VaultSide:
    """Step 1: the missing resource groups, vault with identity, its Site Recovery endpoint, the
    zone and the zone group. Nothing is waited for here: the caller settles the futures
    (VaultSide.settle)."""
    groups = {
        name: ensure_resource_group.submit(target, name, bu.region, bu.tags, dry_run)
        for name in bu.landing_zone_resource_groups
        if name not in inspection.resource_groups
    }
    vault = ensure_vault.submit(
        target,
        bu.resource_group,
        bu.vault_name,
        bu.region,
        bu.tags,
        dry_run,
        wait_for=_after_group(groups, bu.resource_group),
    )
    zone = _ensure_zone(target, bu, ASR_ZONE, groups, dry_run)
    # The endpoint targets the vault by its ARM ID, which its name determines; it starts once the
    # vault exists rather than holding the flow until the vault's facts come back.
    vault_id = arm_id(bu.subscription_id, bu.resource_group, "Microsoft.RecoveryServices/vaults", bu.vault_name)
    endpoint = ensure_private_endpoint.submit(
        target, **bu.private_endpoint(bu.vault_name, vault_id, ASR_GROUP_ID), dry_run=dry_run, wait_for=[vault]
    )
    zone_group = ensure_zone_group.submit(target, opaque(endpoint), [opaque(zone)], dry_run)
    return VaultSide(groups=groups, vault=vault, zone=zone, endpoint=endpoint, zone_group=zone_group)


def _ensure_zone(
    target: Target, bu: BusinessUnit, zone: str, groups: dict[str, PrefectFuture[str]], dry_run: bool
) -> PrefectFuture[str]:
    return ensure_private_dns_zone.submit(
        target,
        resource_group=bu.dns_zone_resource_group,
        zone=zone,
        vnet_ids=bu.zone_link_vnet_ids,
        tags=bu.tags,
        dry_run=dry_run,
        wait_for=_after_group(groups, bu.dns_zone_resource_group),
    )


def _outcome(future: PrefectFuture[Any]) -> Any:
    """A future's result, or the exception it ended with. A task that never ran because an
    upstream failed yields an error naming that; callers settle upstream futures first."""
    future.wait()
    state = future.state
    if state.is_completed() or state.is_failed() or state.is_crashed():
        return future.result(raise_on_failure=False)
    return RuntimeError(state.message or f"task run ended {state.name}")


@dataclass
class AccountSide:
    """Steps 3-4 under way for one storage account: roles (they need only the vault identity),
    trusted services and the blob endpoint at once; the zone group once endpoint and zone exist."""

    facts: AccountFacts
    roles: PrefectFuture[list[RoleGrant]]
    trusted: PrefectFuture[bool]
    endpoint: PrefectFuture[EndpointFacts]
    zone_group: PrefectFuture[bool]


@dataclass
class StorageSide:
    zone: PrefectFuture[str]
    accounts: dict[str, AccountSide]

    def settle(self) -> tuple[dict[str, tuple[list[RoleGrant], bool, EndpointFacts]], dict[str, BaseException], str]:
        """Per account: (roles, trusted services changed, endpoint), or its first failure in
        dependency order, so one account's trouble does not stop the others. The blob zone is
        shared by every account: its failure is raised (the run's)."""
        zone_id = self.zone.result()
        done: dict[str, tuple[list[RoleGrant], bool, EndpointFacts]] = {}
        failures: dict[str, BaseException] = {}
        for name, side in self.accounts.items():
            outcomes = [_outcome(f) for f in (side.trusted, side.roles, side.endpoint, side.zone_group)]
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is not None:
                failures[name] = failed
            else:
                done[name] = (outcomes[1], outcomes[0], outcomes[2])
        return done, failures, zone_id


def prepare_storage_accounts(
    target: Target, bu: BusinessUnit, accounts: list[AccountFacts], vault_side: VaultSide, dry_run: bool
) -> StorageSide:
    """Steps 3-4 for the accounts given, all submitted at once; the caller settles them."""
    after_endpoint_group = _after_group(vault_side.groups, bu.resource_group)  # endpoints live beside the vault
    zone = _ensure_zone(target, bu, BLOB_ZONE, vault_side.groups, dry_run)
    sides: dict[str, AccountSide] = {}
    for account in accounts:
        # 3. Grant roles to the vault identity; let trusted services through the account's firewall
        roles = grant_vault_roles.submit(
            target, account, opaque(vault_side.vault), bu.timeouts.role_seconds, bu.timeouts.role_retry_seconds, dry_run
        )
        trusted = allow_trusted_services.submit(target, bu.storage_account(account.name), dry_run, account)
        # 4. Create endpoint: the blob endpoint, and its zone group once the zone exists too
        endpoint = ensure_private_endpoint.submit(
            target,
            **bu.private_endpoint(account.name, account.id, BLOB_GROUP_ID),
            dry_run=dry_run,
            wait_for=after_endpoint_group,
        )
        zone_group = ensure_zone_group.submit(target, opaque(endpoint), [opaque(zone)], dry_run)
        sides[account.name] = AccountSide(account, roles, trusted, endpoint, zone_group)
    return StorageSide(zone=zone, accounts=sides)


def account_reports(
    bu: BusinessUnit,
    accounts: list[AccountFacts],
    prepared: dict[str, tuple[list[RoleGrant], bool, EndpointFacts]],
    approved: dict[str, EndpointFacts],
    how: dict[str, str] | None = None,
) -> dict[str, AccountReport]:
    """The report of every account that was prepared and approved; `how` says, per account, how
    a connection that awaited its owner came to be decided.

    The report says what this run wrote: an endpoint re-read after its approval is Azure's view,
    which knows nothing of who created it, so the create step's `written` mark is carried over."""
    return {
        a.name: AccountReport(
            name=a.name,
            id=a.id,
            role=bu.storage_account(a.name).role,
            sku=a.sku_name,
            roles=prepared[a.name][0],
            trusted_services_changed=prepared[a.name][1],
            endpoint=approved[a.name].model_copy(update={"written": prepared[a.name][2].written}),
            approval=(how or {}).get(a.name, ""),
        )
        for a in accounts
        if a.name in approved
    }


def _waiting(endpoints: dict[str, EndpointFacts]) -> dict[str, EndpointFacts]:
    return {n: e for n, e in endpoints.items() if connection_verdict(e.connection.status) == "wait"}


def _approval_wait_mode(policy: ApprovalPolicy) -> WaitMode:
    """Whether this run can be resumed by a person: the facts Prefect knows, judged by wait_mode."""
    from prefect.runtime import deployment
    from prefect.settings import PREFECT_API_URL

    return wait_mode(policy.pause_in_ui, PREFECT_API_URL.value(), deployment.id)


def await_approvals(
    target: Target,
    bu: BusinessUnit,
    endpoints: dict[str, EndpointFacts],
    failures: dict[str, BaseException],
    how: dict[str, str],
) -> dict[str, EndpointFacts]:
    """Step 5: Approved goes on; Pending is self-approved (policy and Azure permitting) or waited
    for: a pause for a Resume in the Prefect UI when a person can open the server the run is on,
    else re-reading Azure (approval.wait_mode). Rejected, Disconnected or still Pending at the
    timeout go to `failures`; `how` gets, per account waited for, how its approval came."""
    logger = get_run_logger()
    policy = bu.approval
    pending = _waiting(endpoints)
    if pending and policy.mode == "self_approve":
        for name, endpoint in pending.items():
            ref = bu.storage_account(name)
            if self_approve_connection(target, ref, find_account_connection(target, ref, endpoint)):
                endpoints[name] = read_private_endpoint(target, endpoint)
                how[name] = "approved by plmigrate (self_approve)"
        pending = _waiting(endpoints)
    if pending:
        mode = _approval_wait_mode(policy)
        waited = {name: find_account_connection(target, bu.storage_account(name), e) for name, e in pending.items()}
        key = f"approval-{bu.name}"
        instructions = [
            owner_instructions(name, bu.storage_account(name).resource_group, bu.subscription_id, connection)
            for name, connection in waited.items()
        ]
        publish_markdown(
            key,
            render_approval_request(bu.name, mode, policy.timeout_seconds, instructions),
            f"Private endpoint connections of {bu.name} awaiting the storage account owner's approval",
        )
        logger.warning("Waiting for the owner to approve: %s", ", ".join(sorted(waited)))
        for name, connection in waited.items():
            line = waiting_line(bu.storage_account_id(name), connection, mode, target.info_file, policy.timeout_seconds)
            logger.warning("%s", line)
        resumes: list[ResumeRecord] = []
        if mode == "pause":
            # Each resume re-checks Azure; a resume before the owner approved says so and pauses again.
            deadline = time.monotonic() + policy.timeout_seconds
            rounds = 0
            while pending and time.monotonic() < deadline:
                rounds += 1
                try:
                    answer = pause_flow_run(
                        wait_for_input=ConnectionApproval.with_initial_data(description=resume_help(pending)),
                        timeout=max(1, int(deadline - time.monotonic())),
                        poll_interval=max(1, int(policy.poll_seconds)),
                        key=f"approval-{rounds}",
                    )
                except FlowPauseTimeout:
                    logger.warning("Nobody resumed the run within %.0f s", policy.timeout_seconds)
                    break
                for name in list(pending):
                    endpoints[name] = read_private_endpoint(target, pending[name])
                record = ResumeRecord(
                    approved_by=answer.approved_by,
                    note=answer.note,
                    states={n: endpoints[n].connection.status for n in pending},
                )
                resumes.append(record)
                logger.info(
                    "Run %s; Azure shows: %s",
                    record.describe(),
                    ", ".join(f"{n} {s}" for n, s in record.states.items()),
                )
                for name, status in record.states.items():
                    if status != "Pending":
                        how[name] = f"{status}; run {record.describe()}"
                pending = _waiting(endpoints)
                for name in pending:
                    logger.warning(
                        "Connection %s on storage account %s is still Pending: the owner has not approved it yet. "
                        "Pausing again; press Resume once it is approved (%.0f s left)",
                        waited[name],
                        name,
                        max(0.0, deadline - time.monotonic()),
                    )
        else:
            started = time.monotonic()
            endpoints.update(await_connection_approval(target, pending, policy.timeout_seconds, policy.poll_seconds))
            for name in pending:
                status = endpoints[name].connection.status
                if status != "Pending":
                    how[name] = f"{status}; noticed by re-reading Azure after {time.monotonic() - started:.0f} s"
        publish_markdown(
            key,
            render_approval_outcome(
                bu.name,
                {n: (waited[n], endpoints[n].connection.status, how.get(n, "")) for n in waited},
                resumes,
            ),
            f"Private endpoint connections of {bu.name}: the owner's decision",
        )
    for name, endpoint in endpoints.items():
        if connection_verdict(endpoint.connection.status) != "proceed":
            ref = bu.storage_account(name)
            failures.setdefault(
                name,
                StepFailed(
                    step="await approval",
                    resource=endpoint.id,
                    reason=approval_failure_reason(name, endpoint.connection.status, policy.timeout_seconds),
                    fix=rejected_message(name, ref.resource_group, endpoint.connection.status, endpoint.id),
                ),
            )
    return {n: e for n, e in endpoints.items() if n not in failures}


def verify_endpoint_dns(
    bu: BusinessUnit,
    endpoint: PrefectFuture[EndpointFacts] | EndpointFacts,
    zone_group: PrefectFuture[bool] | None,
    nameservers: list[tuple[str, int]],
    what: str,
) -> PrefectFuture[list[DnsResult]]:
    """Step 2: an endpoint's FQDNs from the appliance's nameservers, as soon as its zone group
    (which writes the A records) is done."""
    return verify_dns.submit(
        opaque(endpoint),
        nameservers,
        bu.region,
        bu.timeouts.dns_seconds,
        bu.timeouts.dns_retry_seconds,
        what=what,
        wait_for=[zone_group] if zone_group is not None else None,
    )


def prepare_landing_zone(target: Target, bu: BusinessUnit, dry_run: bool = False) -> LandingZoneReport:
    """The six steps for one business unit; call inside a flow run. Every write starts as soon as
    what it needs exists (the futures below), so the run takes about its critical path: vault →
    vault endpoint → zone group → DNS (docs/performance.md). A dry run reads everything, writes
    nothing, and reports what a real run would create or change."""
    nameservers = sorted({ns for a in bu.appliances for ns in target.appliance_nameservers(a.endpoints())})
    inspection = validate_landing_zone(target, bu)
    accounts = inspection.accounts
    # 1. Create resources (vault side)
    vault_side = create_vault_side(target, bu, inspection, dry_run)
    # 2. Verify DNS from the appliance's vantage point, once the vault's records exist
    vault_check = (
        None
        if dry_run
        else verify_endpoint_dns(bu, vault_side.endpoint, vault_side.zone_group, nameservers, f"vault {bu.vault_name}")
    )
    # 3-4. Grant roles, create endpoints (per storage account, started with the vault side)
    storage = prepare_storage_accounts(target, bu, accounts, vault_side, dry_run)
    # 2b. The blob FQDNs must resolve privately too: each as soon as its records exist
    blob_checks = (
        {}
        if dry_run
        else {
            name: verify_endpoint_dns(bu, side.endpoint, side.zone_group, nameservers, f"storage account {name}")
            for name, side in storage.accounts.items()
        }
    )
    vault, vault_endpoint, asr_zone = vault_side.settle()
    vault_dns = vault_check.result() if vault_check is not None else []
    prepared, failures, blob_zone = storage.settle()
    # 5. Await approval (a dry run made nothing, so there is nothing to approve yet)
    endpoints = {name: facts[2] for name, facts in prepared.items()}
    how: dict[str, str] = {}
    approved = endpoints if dry_run else await_approvals(target, bu, endpoints, failures, how)
    if failures:
        raise next(iter(failures.values()))
    reports = account_reports(bu, accounts, prepared, approved, how)
    for name, report in reports.items():
        if name in blob_checks:
            report.dns = _checked_dns(bu, blob_checks[name], endpoints[name], approved[name], nameservers, name)
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
        zones_created=[z for z in (asr_zone, blob_zone) if getattr(z, "written", False)],
        vault_dns=vault_dns,
        accounts=list(reports.values()),
        cache_plan=cache_plan,
    )
    if not dry_run:
        # From the flow, not as a task run: the last thing the run does, so nothing to overlap with.
        publish_markdown.fn(
            f"landing-zone-{bu.name}", render_markdown(report), f"Private Link landing zone of {bu.name}"
        )
    return report


def _checked_dns(
    bu: BusinessUnit,
    check: PrefectFuture[list[DnsResult]],
    created: EndpointFacts,
    approved: EndpointFacts,
    nameservers: list[tuple[str, int]],
    name: str,
) -> list[DnsResult]:
    """The blob check's answers; checked again where approval changed the endpoint's FQDNs or
    IPs (the first check ran on the endpoint as created)."""
    results = check.result()
    if approved.dns != created.dns:
        results = verify_endpoint_dns(bu, approved, None, nameservers, f"storage account {name}").result()
    return results


@flow(
    name="private-link-landing-zone",
    task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS),
    description="Create resources → verify DNS → grant roles → create endpoint → await approval → select cache account",
)
def private_link_landing_zone(
    # The form's labels and help texts (Prefect titles a parameter by its name unless told; the
    # UI shows descriptions as plain text). business_unit_file is required all the same.
    business_unit_file: str = Field(json_schema_extra={"title": "Business Unit File"}, description=BUSINESS_UNIT_HELP),
    target: str = Field(
        default=f"sandbox:{DEFAULT_SANDBOX_INFO}", json_schema_extra={"title": "Target"}, description=TARGET_HELP
    ),
    dry_run: bool = Field(default=False, json_schema_extra={"title": "Dry Run"}, description=DRY_RUN_HELP),
) -> LandingZoneReport:
    """Prepare one business unit's landing zone for replication over Private Link."""
    freeze_startup_objects()
    files = {"Business Unit File": business_unit_file}
    with failure_published("landing-zone-failed", "Private Link landing zone", files) as failed:
        bu = load_business_unit(business_unit_file)
        failed.key = f"landing-zone-failed-{bu.name}"
        with run_deadline(bu.run_timeout_seconds, f"landing zone of {bu.name}"):
            resolved = resolve_target(target, bu.subscription_id).paced(bu.limits).timed(bu.timeouts)
            return prepare_landing_zone(resolved, bu, dry_run)
    return failed.state  # type: ignore[return-value]  # a Failed state: see failure_published


if __name__ == "__main__":
    import sys

    private_link_landing_zone(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else f"sandbox:{DEFAULT_SANDBOX_INFO}")
