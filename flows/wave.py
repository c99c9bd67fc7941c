"""A migration wave: prepare the landing zone once, each storage account the wave needs once
(concurrently), then every server of the wave, ending each in a recorded state: ready, or
blocked with the reason and the fix. One server's trouble never stops the others.

A server's state is a pure decision on facts read once per landing zone, account and appliance,
so it is made in the flow itself: no task run per server or per group (a task run costs ~13 ms of
client CPU and a handful of records on the Prefect server, which drops them once a run maps
thousands of tasks: docs/performance.md). Every server still shows in the UI: in the servers
table artifact and named in a log record of its group.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from flows.lifecycle import choose_servers, refusals, run_lifecycle
from flows.private_link import (
    TASK_THREADS,
    StorageSide,
    VaultSide,
    account_reports,
    await_approvals,
    create_vault_side,
    prepare_storage_accounts,
    validate_landing_zone,
    verify_endpoint_dns,
)
from plmigrate import progress
from plmigrate.azure import DEFAULT_SANDBOX_INFO, Target, resolve_target
from plmigrate.errors import InputError
from plmigrate.facts import EndpointFacts
from plmigrate.form import (
    APPROVER_HELP,
    BUSINESS_UNIT_HELP,
    CHANGE_HELP,
    DRY_RUN_HELP,
    INVENTORY_HELP,
    SERVERS_HELP,
    STAGE_HELP,
    TARGET_HELP,
    FormNames,
    FormText,
    inventory_waves,
    no_default,
    wave_help,
)
from plmigrate.inventory import Server, load_inventory
from plmigrate.model import BusinessUnit, load_business_unit
from plmigrate.report import AccountReport
from plmigrate.rules import CacheChoice, DnsResult
from plmigrate.runtime import freeze_startup_objects
from plmigrate.wave import (
    Problem,
    ServerState,
    WaveReport,
    accounts_needed,
    as_dry_run,
    choose_cache_accounts,
    chunked,
    describe_failure,
    render_wave_markdown,
    server_rows,
    server_state,
    summary_counts,
)
from tasks.reporting import artifact_key, failure_published, publish_markdown
from tasks.retrying import run_deadline
from tasks.servers import log_states

VAULT = "vault"  # the key of the vault's FQDNs among the DNS checks


class WaveRun(BaseModel):
    """Which wave of which business unit to run, and where. The defaults come from the deployment
    (prefect.yaml); a change here applies to this run only."""

    business_unit_file: str = Field(title="Business Unit File", description=BUSINESS_UNIT_HELP)
    inventory_file: str = Field(title="Inventory File", description=INVENTORY_HELP)
    wave: str = Field(title="Wave", description=wave_help(inventory_waves()))
    target: str = Field(default=f"sandbox:{DEFAULT_SANDBOX_INFO}", title="Target", description=TARGET_HELP)
    dry_run: bool = Field(default=False, title="Dry Run", description=DRY_RUN_HELP)
    to: Literal["ready", "replicating", "replicated", "test-migrated", "tested", "migrated", "completed"] = Field(
        default="ready", title="Stage", description=STAGE_HELP
    )
    change: FormText = Field(default=None, title="Change Ticket", description=CHANGE_HELP, json_schema_extra=no_default)
    approver: FormText = Field(default=None, title="Approver", description=APPROVER_HELP, json_schema_extra=no_default)
    servers: FormNames = Field(default=None, title="Servers", description=SERVERS_HELP, json_schema_extra=no_default)


def check_dns_per_appliance(
    bu: BusinessUnit,
    nameservers: dict[str, list[tuple[str, int]]],
    vault_side: VaultSide,
    storage: StorageSide,
) -> dict[tuple[str, str], PrefectFuture[list[DnsResult]]]:
    """DNS from each appliance's nameservers, for the vault and for each account (separately, so
    a bad answer blocks only the servers that need that name), each as soon as its records exist."""
    sides = {VAULT: (vault_side.endpoint, vault_side.zone_group)} | {
        name: (side.endpoint, side.zone_group) for name, side in storage.accounts.items()
    }
    return {
        (appliance, part): verify_endpoint_dns(bu, endpoint, zone_group, asked, f"{part} from appliance {appliance}")
        for appliance, asked in nameservers.items()
        for part, (endpoint, zone_group) in sides.items()
    }


def dns_problems_of(
    bu: BusinessUnit,
    checks: dict[tuple[str, str], PrefectFuture[list[DnsResult]]],
    nameservers: dict[str, list[tuple[str, int]]],
    created: dict[str, EndpointFacts],
    ready: dict[str, AccountReport],
) -> dict[tuple[str, str], Problem]:
    """What failed among the DNS checks of the vault and the ready accounts. An account whose
    endpoint approval changed its FQDNs or IPs is checked again on the approved endpoint."""
    problems: dict[tuple[str, str], Problem] = {}
    for (appliance, part), future in checks.items():
        if part != VAULT and part not in ready:
            continue  # the account's own problem blocks its servers already
        endpoint = ready[part].endpoint if part in ready else None
        if endpoint is not None and endpoint.dns != created[part].dns:
            future = verify_endpoint_dns(
                bu, endpoint, None, nameservers[appliance], f"{part} from appliance {appliance}"
            )
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            problems[(appliance, part)] = describe_failure(outcome)
    return problems


def record_servers(
    bu: BusinessUnit,
    wave: str,
    servers: list[Server],
    choices: dict[str, CacheChoice],
    account_problems: dict[str, Problem],
    dns_problems: dict[tuple[str, str], Problem],
) -> list[ServerState]:
    """Every server's state, in the flow: a pure decision on facts read once per landing zone,
    account and appliance, so it costs no task run, no ARM call and no Prefect work per server.
    Logged per group (the ready servers named in one record per reason, a line per blocked one),
    progress to local listeners per group and to the UI once (docs/performance.md)."""
    logger = get_run_logger()
    total = len(servers)
    states: list[ServerState] = []
    for group in chunked(servers, bu.limits.servers_per_task):
        done = [server_state(s, choices[s.name], account_problems, dns_problems, VAULT) for s in group]
        log_states(logger, done)
        states += done
        progress.report(len(states), total, Counter(s.state for s in states), title=f"{wave} readiness")
    create_progress_artifact(
        progress=100.0, key=artifact_key(f"wave-progress-{bu.name}-{wave}"), description=f"Servers of {wave} recorded"
    )
    return states


def run_wave(target: Target, bu: BusinessUnit, wave: str, servers: list[Server], dry_run: bool = False) -> WaveReport:
    """The wave's steps; call inside a flow run."""
    logger = get_run_logger()
    # Whom each appliance asks for DNS: settled before anything is written (none configured
    # against Azure is an input error).
    nameservers = {
        name: target.appliance_nameservers(bu.appliance(name).endpoints())
        for name in sorted({s.appliance for s in servers})
    }
    inspection = validate_landing_zone(target, bu)
    accounts = {a.name: a for a in inspection.accounts}
    choices = choose_cache_accounts(servers, accounts, bu)
    needed = [accounts[name] for name in accounts_needed(servers, choices)]
    logger.info(
        "Wave %s: %d servers, %d storage accounts: %s",
        wave,
        len(servers),
        len(needed),
        ", ".join(a.name for a in needed),
    )

    # The landing zone once and each account the wave needs once, every write starting as soon
    # as what it needs exists; DNS as each appliance of the wave sees it, once the records exist.
    vault_side = create_vault_side(target, bu, inspection, dry_run)
    storage = prepare_storage_accounts(target, bu, needed, vault_side, dry_run)
    checks = {} if dry_run else check_dns_per_appliance(bu, nameservers, vault_side, storage)
    vault, vault_endpoint, _ = vault_side.settle()
    prepared, failures, _ = storage.settle()
    created = {name: facts[2] for name, facts in prepared.items()}
    how: dict[str, str] = {}
    approved = created if dry_run else await_approvals(target, bu, dict(created), failures, how)
    ready = account_reports(bu, needed, prepared, approved, how)
    account_problems = {name: describe_failure(exc) for name, exc in failures.items()}
    dns_problems = dns_problems_of(bu, checks, nameservers, created, ready)

    states = record_servers(bu, wave, servers, choices, account_problems, dns_problems)
    if dry_run:  # nothing was written or resolved: say what each server would still need
        states = as_dry_run(states, vault, vault_endpoint, ready)
    report = WaveReport(
        business_unit=bu.name,
        wave=wave,
        dry_run=dry_run,
        vault_id=vault.id,
        accounts=list(ready.values()),
        account_problems=account_problems,
        servers=states,
    )
    # The summary and the table at once: two API calls, neither waiting for the other.
    summary = publish_markdown.submit(
        f"wave-summary-{bu.name}-{wave}", render_wave_markdown(report), f"Wave {wave} of {bu.name}"
    )
    create_table_artifact(
        key=artifact_key(f"wave-servers-{bu.name}-{wave}"),
        table=server_rows(states),
        description=f"Every server of {wave} and the state it ended in",
    )
    summary.result()
    logger.info("Wave %s: %s", wave, summary_counts(report))
    return report


# Required all the same: this only titles the form's section (Prefect titles a parameter by its name).
WAVE_RUN_PARAMETER = Field(json_schema_extra={"title": "Wave run"})


@flow(
    name="migration-wave",
    task_runner=ThreadPoolTaskRunner(max_workers=TASK_THREADS),
    description="Prepare the landing zone and storage accounts once, then record every server's readiness",
)
def migration_wave(run: WaveRun = WAVE_RUN_PARAMETER) -> WaveReport:
    """Run one wave of one business unit's inventory (see deployments/): the landing zone and each
    server's readiness, then, with `to` past ready, the servers' lifecycle (flows/lifecycle.py)."""
    freeze_startup_objects()
    files = {"Business Unit File": run.business_unit_file, "Inventory File": run.inventory_file}
    with failure_published("wave-failed", f"Wave {run.wave}", files) as failed:
        bu = load_business_unit(run.business_unit_file)
        failed.key = f"wave-failed-{bu.name}"
        notes: list[str] = []
        servers = load_inventory(run.inventory_file, bu, run.wave, notes)
        for note in notes:  # INFO: the CLI's preflight has said it on the terminal already
            get_run_logger().info("%s", note)
        problems = refusals(bu, run.to, run.change, interactive=True, now=datetime.now(UTC))
        if problems:
            raise InputError(problems, source=f"wave {run.wave} of {bu.name}")
        target = resolve_target(run.target, bu.subscription_id).paced(bu.limits).timed(bu.timeouts)
        with run_deadline(bu.run_timeout_seconds, f"wave {run.wave} of {bu.name}"):
            report = run_wave(target, bu, run.wave, servers, run.dry_run)
            if run.to != "ready":
                chosen = choose_servers(servers, run.servers)
                report.lifecycle = run_lifecycle(
                    target, bu, run.wave, chosen, report, run.to, run.change, run.approver, run.dry_run
                )
        return report
    return failed.state  # type: ignore[return-value]  # a Failed state: see failure_published


if __name__ == "__main__":
    import sys

    migration_wave(WaveRun(business_unit_file=sys.argv[1], inventory_file=sys.argv[2], wave=sys.argv[3]))
