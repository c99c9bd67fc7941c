"""The wave without Prefect: the yardstick for bench/wave.py.

A plain script doing what `flows.wave.run_wave` does, with the same SDK calls in the same order
and the same parallelism: the task functions' own bodies (`task.fn`), so every ARM call is the
one the flow makes, through the same client factory and ARM pacer (`Target.paced`), on a
`ThreadPoolExecutor` of 8 (the flow's `ThreadPoolTaskRunner(max_workers=8)`). Calls the flow makes
inline run inline here; calls it submits are submitted here, in the same order, and waited for at
the same points. Server states come from plmigrate.wave's pure functions, one log line per server
(to a plain logging handler), as the flow's groups do.

The task bodies call `get_run_logger()`, which raises `MissingContextError` outside a flow or task
run. They run inside `prefect.logging.disable_run_logger()`, Prefect's documented way to call a
task's `.fn` without a run: `get_run_logger()` then returns a disabled logger. No flow run, task
run, state, event, log record or artifact is made; nothing talks to a Prefect server.

What the baseline does not do, because only Prefect does it: task-level retries (none fire on a
run without faults), the Prefect UI's artifacts (the same table and summary are written to files
instead), and pausing for a human (the benchmark's accounts are all approvable; a pending
connection is polled for, as the flow does when `pause_in_ui` is off).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from plmigrate.azure import Target
from plmigrate.errors import StepFailed
from plmigrate.facts import EndpointFacts
from plmigrate.inventory import Server
from plmigrate.model import BusinessUnit
from plmigrate.report import AccountReport
from plmigrate.rules import (
    ASR_GROUP_ID,
    ASR_ZONE,
    BLOB_GROUP_ID,
    BLOB_ZONE,
    connection_verdict,
    rejected_message,
    validate_account,
)
from plmigrate.wave import (
    Problem,
    ServerState,
    WaveReport,
    accounts_needed,
    choose_cache_accounts,
    chunked,
    describe_failure,
    render_wave_markdown,
    server_rows,
    server_state,
)

VAULT = "vault"  # flows.wave.VAULT
log = logging.getLogger("bench.baseline")


def _outcome(future: Future) -> Any:
    """A future's result, or its exception (the flow's `result(raise_on_failure=False)`)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


def _settle(futures: dict[str, Future], failures: dict[str, BaseException]) -> dict[str, Any]:
    settled: dict[str, Any] = {}
    for name, future in futures.items():
        result = _outcome(future)
        if isinstance(result, BaseException):
            failures.setdefault(name, result)
        else:
            settled[name] = result
    return settled


def run_baseline(
    target: Target, bu: BusinessUnit, wave: str, servers: list[Server], out_dir: Path, workers: int = 8
) -> WaveReport:
    """The wave's steps, as flows.wave.run_wave takes them, without Prefect."""
    from prefect.logging import disable_run_logger

    from tasks.approval import await_connection_approval, find_account_connection, self_approve_connection
    from tasks.dns import verify_dns
    from tasks.inspect import inspect_network, inspect_storage_account, inspect_subscription
    from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group, read_private_endpoint
    from tasks.roles import grant_vault_roles
    from tasks.storage import allow_trusted_services
    from tasks.vault import ensure_resource_group, ensure_vault

    with disable_run_logger(), ThreadPoolExecutor(max_workers=workers) as pool:
        # validate_landing_zone
        subscription = inspect_subscription.fn(target, bu.subscription_id, bu.tenant_id)
        if subscription:
            raise RuntimeError("; ".join(subscription))
        network = pool.submit(inspect_network.fn, target, bu)
        inspected = [pool.submit(inspect_storage_account.fn, target, ref) for ref in bu.storage_accounts]
        problems = list(network.result())
        accounts = {}
        for ref, future in zip(bu.storage_accounts, inspected, strict=True):
            found = future.result()
            if isinstance(found, str):
                problems.append(found)
                continue
            problems += [f"storage_accounts[{ref.name}]: {p}" for p in validate_account(found, ref.role, bu.region)]
            accounts[found.name] = found
        if problems:
            raise RuntimeError("; ".join(problems))
        choices = choose_cache_accounts(servers, accounts, bu)
        needed = [accounts[name] for name in accounts_needed(servers, choices)]
        log.info("Wave %s: %d servers, %d storage accounts", wave, len(servers), len(needed))

        # create_vault_side (inline in the flow)
        ensure_resource_group.fn(target, bu.resource_group, bu.region, bu.tags, False)
        vault = ensure_vault.fn(target, bu.resource_group, bu.vault_name, bu.region, bu.tags, False)
        vault_endpoint = ensure_private_endpoint.fn(
            target, **bu.private_endpoint(bu.vault_name, vault.id, ASR_GROUP_ID), dry_run=False
        )
        ensure_resource_group.fn(target, bu.dns_zone_resource_group, bu.region, bu.tags, False)
        asr_zone = ensure_private_dns_zone.fn(
            target,
            resource_group=bu.dns_zone_resource_group,
            zone=ASR_ZONE,
            vnet_ids=bu.zone_link_vnet_ids,
            tags=bu.tags,
            dry_run=False,
        )
        ensure_zone_group.fn(target, vault_endpoint, [asr_zone], False)

        # prepare_storage_accounts: roles and trusted services, blob endpoints, approvals
        failures: dict[str, BaseException] = {}
        grants = {
            a.name: pool.submit(
                grant_vault_roles.fn,
                target,
                a,
                vault.principal_id,
                bu.timeouts.role_seconds,
                bu.timeouts.role_retry_seconds,
                False,
            )
            for a in needed
        }
        trusted = {
            a.name: pool.submit(allow_trusted_services.fn, target, bu.storage_account(a.name), False) for a in needed
        }
        zone = pool.submit(
            lambda: ensure_private_dns_zone.fn(
                target,
                resource_group=bu.dns_zone_resource_group,
                zone=BLOB_ZONE,
                vnet_ids=bu.zone_link_vnet_ids,
                tags=bu.tags,
                dry_run=False,
            )
        )
        submitted = {
            a.name: pool.submit(
                lambda a=a: ensure_private_endpoint.fn(
                    target, **bu.private_endpoint(a.name, a.id, BLOB_GROUP_ID), dry_run=False
                )
            )
            for a in needed
        }
        blob_zone = zone.result()
        endpoints: dict[str, EndpointFacts] = _settle(submitted, failures)
        groups = {n: pool.submit(ensure_zone_group.fn, target, e, [blob_zone], False) for n, e in endpoints.items()}
        _settle(groups, failures)
        endpoints = {n: e for n, e in endpoints.items() if n not in failures}
        granted, opened = _settle(grants, failures), _settle(trusted, failures)
        ready = {n: e for n, e in endpoints.items() if n not in failures}

        # await_approvals, unattended (no pause: there is no Prefect UI to resume from)
        pending = {n: e for n, e in ready.items() if connection_verdict(e.connection.status) == "wait"}
        if pending and bu.approval.mode == "self_approve":
            for name, endpoint in pending.items():
                ref = bu.storage_account(name)
                if self_approve_connection.fn(target, ref, find_account_connection.fn(target, ref, endpoint)):
                    ready[name] = read_private_endpoint.fn(target, endpoint)
            pending = {n: e for n, e in ready.items() if connection_verdict(e.connection.status) == "wait"}
        for name, endpoint in pending.items():
            ready[name] = await_connection_approval.fn(
                target, endpoint, bu.approval.timeout_seconds, bu.approval.poll_seconds
            )
        for name, endpoint in ready.items():
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
            for a in needed
            if a.name not in failures
        }
        account_problems = {name: describe_failure(exc) for name, exc in failures.items()}

        # DNS from each appliance, vault and each ready account separately
        names = {VAULT: vault_endpoint.dns} | {n: r.endpoint.dns for n, r in reports.items() if r.endpoint}
        checks = {
            (appliance, part): pool.submit(
                verify_dns.fn,
                expected,
                target.appliance_nameservers(bu.appliance(appliance).endpoints()),
                bu.region,
                bu.timeouts.dns_seconds,
                bu.timeouts.dns_retry_seconds,
                f"{part} from appliance {appliance}",
            )
            for appliance in sorted({s.appliance for s in servers})
            for part, expected in names.items()
        }
        dns_problems: dict[tuple[str, str], Problem] = {}
        for key, future in checks.items():
            outcome = _outcome(future)
            if isinstance(outcome, BaseException):
                dns_problems[key] = describe_failure(outcome)

        # The servers, in groups of servers_per_task, as the flow's record-server-states tasks
        def record(group: list[Server]) -> list[ServerState]:
            states = [server_state(s, choices[s.name], account_problems, dns_problems, VAULT) for s in group]
            for state in states:
                if state.state == "ready":
                    log.info("server %s: ready (%s)", state.server, state.reason)
                else:
                    log.warning("server %s: blocked: %s. Fix: %s", state.server, state.reason, state.fix)
            return states

        futures = [pool.submit(record, group) for group in chunked(servers, bu.limits.servers_per_task)]
        states: list[ServerState] = []
        for finished in as_completed(futures):
            states += finished.result()
    order = {s.name: i for i, s in enumerate(servers)}
    states.sort(key=lambda s: order[s.server])
    report = WaveReport(
        business_unit=bu.name,
        wave=wave,
        vault_id=vault.id,
        accounts=list(reports.values()),
        account_problems=account_problems,
        servers=states,
    )
    # What the flow publishes as artifacts, written where a script would put it.
    (out_dir / "baseline-servers.json").write_text(json.dumps(server_rows(states)))
    (out_dir / "baseline-summary.md").write_text(render_wave_markdown(report))
    return report
