"""The landing zone as a plain script in graph order: the yardstick of bench/landing_zone.py and
the first half of bench/baseline.py.

The same task bodies the flows run (`task.fn`, so every ARM call is the flow's, through the same
client factory and ARM pacer), each started the moment what it needs exists, on a bare
`ThreadPoolExecutor`: no Prefect run, state, event, log record or artifact. `Graph` is the little
scheduler that does it: a node is handed to the pool only once its upstream nodes are done (a
waiting node holds no thread), and futures among its arguments are replaced by their results,
as Prefect resolves futures passed to a task.

The dependency graph is the flow's (flows/private_link.py):

    validation (reads, the resource groups among them); then, each into its resource group once
    that exists (created first if validation did not find it):
    vault → vault endpoint → zone group (also needs the ASR zone) → DNS
    ASR zone + links; blob zone + links
    per account: roles (need the vault identity); trusted services; blob endpoint → zone group
    (also needs the blob zone) → DNS

The task bodies call `get_run_logger()`; run them inside `prefect.logging.disable_run_logger()`
(Prefect's documented way to call `.fn` outside a run), as `run_landing_zone` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from plmigrate.azure import Target
from plmigrate.errors import StepFailed
from plmigrate.facts import EndpointFacts, Inspection, RoleGrant, VaultFacts
from plmigrate.model import BusinessUnit
from plmigrate.naming import arm_id
from plmigrate.report import AccountReport
from plmigrate.rules import (
    ASR_GROUP_ID,
    ASR_ZONE,
    BLOB_GROUP_ID,
    BLOB_ZONE,
    AccountFacts,
    DnsResult,
    connection_verdict,
    rejected_message,
    validate_account,
)


def _resolve(value: Any) -> Any:
    if isinstance(value, Future):
        return value.result()
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def _futures_in(values: Iterable[Any]) -> list[Future]:
    found: list[Future] = []
    for value in values:
        if isinstance(value, Future):
            found.append(value)
        elif isinstance(value, list):
            found += _futures_in(value)
    return found


class Graph:
    """Run callables on a pool, each once its upstream futures are done (those among its
    arguments and `after`). A failed upstream fails the node with the upstream's exception."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool

    def node(self, fn: Callable[..., Any], *args: Any, after: Iterable[Future] = (), **kwargs: Any) -> Future:
        out: Future = Future()
        upstream = list(after) + _futures_in(args) + _futures_in(kwargs.values())
        remaining = [len(upstream)]
        lock = threading.Lock()

        def run() -> None:
            try:
                out.set_result(fn(*[_resolve(a) for a in args], **{k: _resolve(v) for k, v in kwargs.items()}))
            except BaseException as exc:  # handed to whoever waits on the node
                out.set_exception(exc)

        def start() -> None:
            failed = next((f.exception() for f in upstream if f.exception() is not None), None)
            if failed is not None:
                out.set_exception(failed)
            else:
                self.pool.submit(run)

        def one_done(_: Future) -> None:
            with lock:
                remaining[0] -= 1
                ready = remaining[0] == 0
            if ready:
                start()

        if not upstream:
            start()
        for future in upstream:
            future.add_done_callback(one_done)
        return out


def outcome(future: Future) -> Any:
    """A future's result, or its exception (the flow's `result(raise_on_failure=False)`)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


@dataclass
class LandingZone:
    """The landing zone's futures, as flows/private_link.py's VaultSide and StorageSide hold them."""

    vault: Future
    vault_endpoint: Future
    vault_zone_group: Future
    asr_zone: Future
    blob_zone: Future
    groups: list[Future]
    accounts: dict[str, dict[str, Future]] = field(default_factory=dict)


def validate(target: Target, bu: BusinessUnit, pool: ThreadPoolExecutor) -> Inspection:
    """flows.private_link.validate_landing_zone without Prefect."""
    from tasks.inspect import inspect_network, inspect_resource_groups, inspect_storage_account, inspect_subscription

    subscription = pool.submit(inspect_subscription.fn, target, bu.subscription_id, bu.tenant_id)
    network = pool.submit(inspect_network.fn, target, bu)
    inspected = [pool.submit(inspect_storage_account.fn, target, ref) for ref in bu.storage_accounts]
    groups = pool.submit(inspect_resource_groups.fn, target, bu.landing_zone_resource_groups)
    if unseen := subscription.result():
        raise RuntimeError("; ".join(unseen))
    problems = list(network.result())
    accounts: list[AccountFacts] = []
    for ref, future in zip(bu.storage_accounts, inspected, strict=True):
        found = future.result()
        if isinstance(found, str):
            problems.append(found)
            continue
        problems += [f"storage_accounts[{ref.name}]: {p}" for p in validate_account(found, ref.role, bu.region)]
        accounts.append(found)
    if problems:
        raise RuntimeError("; ".join(problems))
    return Inspection(accounts=accounts, resource_groups=groups.result())


def start_landing_zone(
    target: Target, bu: BusinessUnit, inspection: Inspection, accounts: list[AccountFacts], graph: Graph
) -> LandingZone:
    """Every write of the landing zone, in graph order (flows.private_link.create_vault_side and
    prepare_storage_accounts)."""
    from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group
    from tasks.roles import grant_vault_roles
    from tasks.storage import allow_trusted_services
    from tasks.vault import ensure_resource_group, ensure_vault

    groups = {
        name: graph.node(ensure_resource_group.fn, target, name, bu.region, bu.tags, False)
        for name in bu.landing_zone_resource_groups
        if name not in inspection.resource_groups
    }

    def after_group(name: str) -> list[Future]:
        return [groups[name]] if name in groups else []

    vault = graph.node(
        ensure_vault.fn, target, bu.resource_group, bu.vault_name, bu.region, bu.tags, False,
        after=after_group(bu.resource_group),
    )  # fmt: skip

    def zone(name: str) -> Future:
        return graph.node(
            ensure_private_dns_zone.fn, target, resource_group=bu.dns_zone_resource_group, zone=name,
            vnet_ids=bu.zone_link_vnet_ids, tags=bu.tags, dry_run=False, after=after_group(bu.dns_zone_resource_group),
        )  # fmt: skip

    asr_zone = zone(ASR_ZONE)
    vault_id = arm_id(bu.subscription_id, bu.resource_group, "Microsoft.RecoveryServices/vaults", bu.vault_name)
    vault_endpoint = graph.node(
        ensure_private_endpoint.fn, target, **bu.private_endpoint(bu.vault_name, vault_id, ASR_GROUP_ID),
        dry_run=False, after=[vault],
    )  # fmt: skip
    vault_zone_group = graph.node(ensure_zone_group.fn, target, vault_endpoint, [asr_zone], False)
    blob_zone = zone(BLOB_ZONE)
    lz = LandingZone(vault, vault_endpoint, vault_zone_group, asr_zone, blob_zone, list(groups.values()))
    for account in accounts:
        endpoint = graph.node(
            ensure_private_endpoint.fn, target, **bu.private_endpoint(account.name, account.id, BLOB_GROUP_ID),
            dry_run=False, after=after_group(bu.resource_group),
        )  # fmt: skip
        lz.accounts[account.name] = {
            "roles": graph.node(
                grant_vault_roles.fn,
                target,
                account,
                vault,
                bu.timeouts.role_seconds,
                bu.timeouts.role_retry_seconds,
                False,
            ),
            "trusted": graph.node(allow_trusted_services.fn, target, bu.storage_account(account.name), False, account),
            "endpoint": endpoint,
            "zone_group": graph.node(ensure_zone_group.fn, target, endpoint, [blob_zone], False),
        }
    return lz


def dns_check(
    bu: BusinessUnit, graph: Graph, endpoint: Future | EndpointFacts, zone_group: Future | None,
    nameservers: list[tuple[str, int]], what: str,
) -> Future:  # fmt: skip
    """flows.private_link.verify_endpoint_dns without Prefect."""
    from tasks.dns import verify_dns

    return graph.node(
        verify_dns.fn, endpoint, nameservers, bu.region, bu.timeouts.dns_seconds, bu.timeouts.dns_retry_seconds,
        what, after=[zone_group] if zone_group is not None else [],
    )  # fmt: skip


def settle_accounts(
    target: Target, bu: BusinessUnit, lz: LandingZone
) -> tuple[dict[str, tuple[list[RoleGrant], bool, EndpointFacts]], dict[str, EndpointFacts], dict[str, BaseException]]:
    """Per account (roles, trusted services changed, endpoint as created), the endpoints once
    approved, and each failed account's first failure in dependency order; unattended approval
    (the flow's await_approvals with pause_in_ui off: there is no UI to resume from)."""
    from tasks.approval import await_connection_approval, find_account_connection, self_approve_connection
    from tasks.network import read_private_endpoint

    for group in lz.groups:
        group.result()
    lz.blob_zone.result()
    prepared: dict[str, tuple[list[RoleGrant], bool, EndpointFacts]] = {}
    failures: dict[str, BaseException] = {}
    for name, side in lz.accounts.items():
        outcomes = [outcome(side[k]) for k in ("trusted", "roles", "endpoint", "zone_group")]
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            failures[name] = failed
        else:
            prepared[name] = (outcomes[1], outcomes[0], outcomes[2])
    approved = {name: facts[2] for name, facts in prepared.items()}
    pending = {n: e for n, e in approved.items() if connection_verdict(e.connection.status) == "wait"}
    if pending and bu.approval.mode == "self_approve":
        for name, endpoint in pending.items():
            ref = bu.storage_account(name)
            if self_approve_connection.fn(target, ref, find_account_connection.fn(target, ref, endpoint)):
                approved[name] = read_private_endpoint.fn(target, endpoint)
        pending = {n: e for n, e in approved.items() if connection_verdict(e.connection.status) == "wait"}
    if pending:
        approved.update(
            await_connection_approval.fn(target, pending, bu.approval.timeout_seconds, bu.approval.poll_seconds)
        )
    for name, endpoint in approved.items():
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
    return prepared, {n: e for n, e in approved.items() if n not in failures}, failures


@dataclass
class LandingZoneResult:
    vault: VaultFacts
    vault_endpoint: EndpointFacts
    vault_dns: list[DnsResult]
    accounts: dict[str, AccountReport]


def run_landing_zone(target: Target, bu: BusinessUnit, workers: int = 64) -> LandingZoneResult:
    """flows.private_link.prepare_landing_zone as a plain script in graph order (no dry run, no
    pause, no artifact: the report is returned)."""
    from prefect.logging import disable_run_logger

    from flows.private_link import account_reports

    nameservers = sorted({ns for a in bu.appliances for ns in target.appliance_nameservers(a.endpoints())})
    with disable_run_logger(), ThreadPoolExecutor(max_workers=workers) as pool:
        graph = Graph(pool)
        inspection = validate(target, bu, pool)
        accounts = inspection.accounts
        lz = start_landing_zone(target, bu, inspection, accounts, graph)
        vault_check = dns_check(bu, graph, lz.vault_endpoint, lz.vault_zone_group, nameservers, "vault")
        blob_checks = {
            name: dns_check(bu, graph, side["endpoint"], side["zone_group"], nameservers, f"storage account {name}")
            for name, side in lz.accounts.items()
        }
        for future in (*lz.groups, lz.vault, lz.asr_zone, lz.vault_endpoint, lz.vault_zone_group):
            future.result()
        vault_dns = vault_check.result()
        prepared, approved, failures = settle_accounts(target, bu, lz)
        if failures:
            raise next(iter(failures.values()))
        reports = account_reports(bu, accounts, prepared, approved)
        for name, report in reports.items():
            report.dns = blob_checks[name].result()
        return LandingZoneResult(lz.vault.result(), lz.vault_endpoint.result(), vault_dns, reports)
