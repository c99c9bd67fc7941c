"""Moving a wave's servers: after the landing zone and readiness (flows/wave.py), drive every
server forward to the target stage through the stages before it, reading each server's stage from
Azure Site Recovery on every cycle. The flow only composes; every decision is a plain function of
plmigrate.lifecycle fed what the tasks read:

    preflight: read the vault's setup, discoveries, target groups and VNets → lc.judge_preflight
      (every problem at once, each holding only its servers); where a person can resume the run,
      pause for an unregistered or unhealthy appliance and read again on Resume
    → cycle: observe (the containers' pages + failed jobs + VMs: ~N/100 + constant reads)
             → lc.read_positions → lc.next_action per server → lc.due_writes
             → approve (before the first cutover write: ticket, approver, servers; lc.gate_cutover)
             → write the due actions in batches, none waiting on its operation
             → lc.track_waits: go on while someone's wait is within the business unit's timeout
    → report (lc.report_rows: servers table, stage counts, cutover evidence)

A second run with the same target finds every server there and writes nothing; a run killed at
any point is resumed by running it again (items are named after servers, running jobs are
followed, only `allowedOperations` are issued). docs/lifecycle.md describes the stages.
"""

from __future__ import annotations

import datetime as dt
import getpass
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterable

from prefect import get_run_logger, pause_flow_run
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput
from pydantic import Field

from plmigrate import lifecycle as lc
from plmigrate import progress
from plmigrate.approval import wait_mode
from plmigrate.azure import Target
from plmigrate.errors import InputError
from plmigrate.form import (
    CUTOVER_APPROVE_HELP,
    CUTOVER_APPROVER_HELP,
    CUTOVER_SERVERS_HELP,
    CUTOVER_TICKET_HELP,
    NOTE_HELP,
    READ_AGAIN_HELP,
    REGISTERED_BY_HELP,
)
from plmigrate.inventory import Server
from plmigrate.model import BusinessUnit, Migration, SubnetRef
from plmigrate.wave import ServerState, WaveReport, chunked
from tasks.replication import (
    Issued,
    ItemRef,
    Vault,
    Write,
    issue_writes,
    observe,
    observe_task,
    read_discovered_machines_counted,
    read_machines_task,
    read_networks,
    read_networks_task,
    read_setup,
    read_setup_task,
    read_vms_counted,
)
from tasks.reporting import artifact_key, publish_markdown

JOB_LOOKBACK = dt.timedelta(days=30)  # Site Recovery keeps job history about this long


class CutoverApproval(RunInput):
    """Approve the cutover of this wave: the change ticket, who approves, and which servers
    ("all", or names separated by commas). Untick approve to refuse: nothing is cut over."""

    change_ticket: str = Field(title="Change Ticket", description=CUTOVER_TICKET_HELP)
    approver: str = Field(title="Approver", description=CUTOVER_APPROVER_HELP)
    servers: str = Field(default="all", title="Servers", description=CUTOVER_SERVERS_HELP)
    approve: bool = Field(default=True, title="Approve", description=CUTOVER_APPROVE_HELP)


def windows_of(migration: Migration) -> tuple[list[lc.Window], zoneinfo.ZoneInfo]:
    zone = zoneinfo.ZoneInfo(migration.cutover.time_zone)
    return [lc.Window(*w.as_times()) for w in migration.cutover.windows], zone


def refusals(bu: BusinessUnit, to: lc.Stage, change: str | None, interactive: bool, now: dt.datetime) -> list[str]:
    """Input problems of a lifecycle run, before anything is read or written (exit 2)."""
    if lc.rank(to) <= lc.rank("ready"):
        return []
    if bu.migration is None:
        return [
            f"migration: --to {to} needs the business unit's migration section (test network, cutover windows)"
            " — add it (see deployments/finance.yaml)"
        ]
    windows, zone = windows_of(bu.migration)
    return lc.cutover_refusals(to, change, windows, now.astimezone(zone), interactive)


def choose_servers(servers: list[Server], names: list[str] | None) -> list[Server]:
    """The wave's servers a run moves: all, or those named (case-insensitive); an unknown name is
    an input error naming the wave's servers."""
    if not names:
        return servers
    wanted = {n.strip().lower() for n in names if n.strip()}
    unknown = sorted(wanted - {s.name.lower() for s in servers})
    if unknown:
        known = ", ".join(s.name for s in servers)
        raise InputError([f"--servers: {', '.join(unknown)} not in the wave — use names from it: {known}"])
    return [s for s in servers if s.name.lower() in wanted]


def _test_network(bu: BusinessUnit, server: Server) -> SubnetRef:
    assert bu.migration is not None
    base = bu.migration.test_network
    if server.test_vnet and server.test_subnet:
        return SubnetRef(resource_group=base.resource_group, vnet=server.test_vnet, subnet=server.test_subnet)
    return base.subnet_for(server.target_subnet)


def _rg_id(bu: BusinessUnit, name: str) -> str:
    return f"/subscriptions/{bu.subscription_id}/resourceGroups/{name}"


def preflight(
    target: Target, bu: BusinessUnit, servers: list[Server], to: lc.Stage
) -> tuple[dict[str, lc.ApplianceSite], lc.Verdicts]:
    """Every read-only check before the first write, all at once: the appliances' registration and
    process servers, what they discovered, the target resource groups, VNets and subnets, and the
    test networks. The reads here; the verdicts are plmigrate.lifecycle.judge_preflight's."""
    assert bu.migration is not None
    vault = Vault(bu.resource_group, bu.vault_name)
    now = dt.datetime.now(dt.UTC)
    setup = read_setup_task(target, vault)
    sites = {
        name: lc.resolve_appliance(
            setup, name, bu.vault_id, bu.migration.policy, now, bu.migration.heartbeat_max_age_seconds
        )
        for name in sorted({s.appliance for s in servers})
    }
    # What each registered appliance discovered (one paged list per discovery site) and the target
    # networks (tasks.replication.read_networks), all at once.
    site_ids = sorted({sites[s.appliance].site_for(s.source_type) for s in servers if not sites[s.appliance].problem})
    listed = {sid: read_machines_task.submit(target, sid) for sid in site_ids if sid}
    needs_test = lc.rank(to) >= lc.rank("test-migrated")
    tests = _test_networks(bu, servers)
    networks = read_networks_task.submit(target, _target_groups(servers), _vnets_of(tests) if needs_test else [])
    machines = {sid: future.result() for sid, future in listed.items()}
    found = networks.result()
    verdicts = lc.judge_preflight(
        servers, bu.subscription_id, sites, machines, found.groups, found.vnets, tests, needs_test
    )
    return sites, verdicts


def _test_networks(bu: BusinessUnit, servers: list[Server]) -> dict[str, tuple[str, str]]:
    """Each server's test network: (VNet ID, subnet)."""
    return {s.name: (t.vnet_id(bu.subscription_id), t.subnet) for s in servers for t in [_test_network(bu, s)]}


def _vnets_of(tests: dict[str, tuple[str, str]]) -> list[str]:
    return sorted({vnet_id for vnet_id, _ in tests.values()})


def _target_groups(servers: list[Server]) -> list[str]:
    return sorted({s.target_resource_group for s in servers})


class ApplianceRegistration(RunInput):
    """Resume once the appliances named in this run's artifact are registered with the vault (or
    their process server is healthy again): the run then reads the vault again. Untick retry to go
    on without them: their servers stay blocked with the fix."""

    done_by: str = Field(default="", title="Registered By", description=REGISTERED_BY_HELP)
    note: str = Field(default="", title="Note", description=NOTE_HELP)
    retry: bool = Field(default=True, title="Read Again", description=READ_AGAIN_HELP)


def _can_pause(bu: BusinessUnit) -> bool:
    """Whether a person can resume this run in a Prefect UI (plmigrate.approval.wait_mode, the
    landing zone's decision): the appliance wait and the cutover approval pause only then."""
    from prefect.runtime import deployment
    from prefect.settings import PREFECT_API_URL

    return wait_mode(bu.approval.pause_in_ui, PREFECT_API_URL.value(), deployment.id) == "pause"


def _resume_poll(bu: BusinessUnit) -> int:
    """How often a paused run checks for a Resume: `approval.poll_seconds`, as the landing zone's
    connection approval does (Prefect takes whole seconds, at least 1)."""
    return max(1, int(bu.approval.poll_seconds))


def await_appliances(
    target: Target,
    bu: BusinessUnit,
    wave: str,
    servers: list[Server],
    to: lc.Stage,
    sites: dict[str, lc.ApplianceSite],
    verdicts: lc.Verdicts,
) -> tuple[dict[str, lc.ApplianceSite], lc.Verdicts]:
    """An appliance that is unregistered, or whose process server is unhealthy, holds its servers;
    where a person can resume the run, pause for them to fix it on the appliance (each appliance,
    the vault and the exact step shown), and on every Resume run the preflight again. Bounded in
    all by the business unit's approval timeout: then the servers stay blocked with the fix."""
    awaited = lc.appliances_awaited(sites, verdicts.held)
    if not awaited or not _can_pause(bu):
        return sites, verdicts
    logger = get_run_logger()
    timeout = bu.approval.timeout_seconds
    deadline = time.monotonic() + timeout
    attempt = 0
    while awaited:
        left = int(deadline - time.monotonic())
        if left < 1:
            logger.warning("Appliances still not ready after %g s: their servers stay blocked", timeout)
            break
        attempt += 1
        for site in awaited:
            logger.warning(
                "Waiting for appliance %s: %s — %s; then press Resume on this run in the Prefect UI (up to %d s)",
                site.appliance,
                site.problem,
                lc.registration_step(site, bu.vault_id, target.info_file),
                left,
            )
        publish_markdown(
            f"appliance-wait-{bu.name}-{wave}",
            lc.appliance_wait_markdown(wave, bu.vault_id, awaited, verdicts.held, timeout, target.info_file),
            f"{wave}: waiting for {', '.join(s.appliance for s in awaited)}",
        )
        try:
            answer = pause_flow_run(
                wait_for_input=ApplianceRegistration,
                timeout=left,
                poll_interval=_resume_poll(bu),
                key=f"appliance-{wave}-{attempt}",
            )
        except FlowPauseTimeout:
            logger.warning("Nobody resumed the run within %g s: the appliances' servers stay blocked", timeout)
            break
        logger.info(
            "Resumed by %s%s: reading the vault again",
            answer.done_by or "someone",
            f" ({answer.note})" if answer.note else "",
        )
        sites, verdicts = preflight(target, bu, servers, to)
        awaited = lc.appliances_awaited(sites, verdicts.held)
        if not answer.retry:
            break
    return sites, verdicts


def _enable_write(
    bu: BusinessUnit,
    server: Server,
    state: ServerState,
    site: lc.ApplianceSite,
    machine_id: str,
    vnet_id: str,
    skus: dict[str, str],
) -> Write:
    cache = state.cache_account or server.replication_account
    test = _test_network(bu, server)
    spec = lc.EnableSpec(
        machine_id=machine_id,
        process_server_id=site.process_server_id,
        policy_id=site.policy_id,
        log_storage_account_id=bu.storage_account_id(cache),
        disk_type=lc.disk_type(skus.get(server.replication_account, "")),
        target_resource_group_id=_rg_id(bu, server.target_resource_group),
        target_network_id=vnet_id,
        target_subnet=server.target_subnet,
        test_network_id=test.vnet_id(bu.subscription_id),
        test_subnet=test.subnet,
        vm_name=server.name,
        vm_size=server.target_vm_size,
        license_type=server.license_type,
        tags=tuple(sorted({**server.tags, **bu.tags}.items())),
    )
    return Write(server.name, "enable", ItemRef(site.fabric, site.container, server.name), lc.enable_body(spec))


def _action_write(bu: BusinessUnit, wave: str, server: Server, action: lc.Action, ref: ItemRef) -> Write:
    body = {
        "test_failover": lambda: lc.test_failover_body(_test_network(bu, server).vnet_id(bu.subscription_id)),
        "test_failover_cleanup": lambda: lc.test_failover_cleanup_body(wave),
        "unplanned_failover": lc.unplanned_failover_body,
        "commit": lambda: None,
        "remove": lc.remove_body,
    }[action]()
    return Write(server.name, action, ref, body)


def approve_cutover(
    bu: BusinessUnit, wave: str, change: str | None, approver: str | None, wave_servers: Iterable[str], due: list[str]
) -> tuple[lc.CutoverEvidence, set[str]]:
    """The cutover's approval, asked once before the first cutover write: from the command line
    (`--change`), or in the Prefect UI with a pause (ticket, approver, "all" or which servers);
    then the cutover windows, checked now. Returns the evidence and the servers approved (empty
    when refused). `due`: the servers ready for cutover now, shown to the approver."""
    assert bu.migration is not None
    logger = get_run_logger()
    names = due
    chosen: set[str] = set(wave_servers)
    if change:
        evidence = lc.CutoverEvidence(change=change, approver=approver or getpass.getuser())
    elif not _can_pause(bu):
        # A terminal run on a temporary Prefect server (or pausing turned off): a pause could only time out.
        refused = "no change ticket, and this run cannot pause to ask for one (no Prefect UI a person can open, or "
        return lc.CutoverEvidence(refused=refused + "approval.pause_in_ui off) — pass --change"), set()
    else:
        publish_markdown(
            f"cutover-approval-{bu.name}-{wave}",
            f"# Cutover of {wave} ({bu.name}) awaits approval\n\n{len(names)} servers are tested and ready: "
            + ", ".join(names[:50])
            + ("…" if len(names) > 50 else "")
            + "\n\nResume the run with the change ticket, your name, and `all` or the servers to cut over.",
            f"Cutover of {wave}: approval needed",
        )
        try:
            answer = pause_flow_run(
                wait_for_input=CutoverApproval,
                timeout=int(bu.migration.cutover.approval_timeout_seconds),
                poll_interval=_resume_poll(bu),
                key=f"cutover-{wave}",
            )
        except FlowPauseTimeout:
            return lc.CutoverEvidence(refused="nobody approved the cutover before the pause timed out"), set()
        evidence, chosen = lc.cutover_answer(
            answer.change_ticket, answer.approver, answer.servers, answer.approve, wave_servers
        )
        if evidence.refused:
            return evidence, set()
    windows, zone = windows_of(bu.migration)
    evidence, chosen = lc.in_window(evidence, chosen, windows, dt.datetime.now(zone))
    if chosen:
        logger.info("Cutover of %s approved by %s under change %s", wave, evidence.approver, evidence.change)
    return evidence, chosen


def _writes(
    bu: BusinessUnit,
    wave: str,
    due: dict[str, lc.Action],
    by_name: dict[str, Server],
    sites: dict[str, lc.ApplianceSite],
    reading: lc.Reading,
    verdicts: lc.Verdicts,
    states: dict[str, ServerState],
    skus: dict[str, str],
) -> list[Write]:
    """The due actions as writes: where each server's item is (or will be) and what to send."""
    writes = []
    for name, action in due.items():
        server = by_name[name]
        site = sites[server.appliance]
        item = reading.items.get(name)
        if action == "enable":
            machine, vnet = verdicts.machine_ids[name], verdicts.vnet_ids[name]
            writes.append(_enable_write(bu, server, states[name], site, machine, vnet, skus))
        else:
            ref = ItemRef(site.fabric, site.container, str(item["name"]) if item else name)
            writes.append(_action_write(bu, wave, server, action, ref))
    return writes


def _issue(target: Target, vault: Vault, writes: list[Write], per_task: int) -> list[Issued]:
    """Issue the writes in batches of `per_task` servers, the batches at once, none waiting on its operation."""
    batches = [issue_writes.submit(target, vault, batch) for batch in chunked(writes, per_task)]
    return [result for future in batches for result in future.result()]


class _ProgressShown:
    """The lifecycle's progress artifact and the local progress line, told only when the counts change."""

    def __init__(self, bu: BusinessUnit, wave: str, to: lc.Stage) -> None:
        self.title, self.to = f"{wave} to {to}", to
        self.artifact_id = create_progress_artifact(
            progress=0.0,
            key=artifact_key(f"lifecycle-progress-{bu.name}-{wave}"),
            description=f"Servers of {wave} at {to}",
        )
        self.last = ""

    def show(self, positions: dict[str, lc.Position]) -> None:
        done = sum(lc.reached(p, self.to) for p in positions.values())
        told = progress.report(done, len(positions), lc.stage_counts(positions.values()), f"at {self.to}", self.title)
        line = told.line()
        if line != self.last:
            get_run_logger().info("%s", line)
            update_progress_artifact(
                artifact_id=self.artifact_id,  # type: ignore[arg-type]
                progress=100.0 * done / max(len(positions), 1),
                description=line,
            )
            self.last = line


def run_lifecycle(
    target: Target,
    bu: BusinessUnit,
    wave: str,
    servers: list[Server],
    readiness: WaveReport,
    to: lc.Stage,
    change: str | None = None,
    approver: str | None = None,
    dry_run: bool = False,
) -> lc.LifecycleReport:
    """Drive the wave's servers to `to`; call inside a flow run, after the wave's readiness."""
    logger = get_run_logger()
    if bu.migration is None:
        raise InputError([f"migration: --to {to} needs the business unit's migration section — add it"])
    migration = bu.migration
    vault = Vault(bu.resource_group, bu.vault_name)
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)  # clock skew between us and Azure
    by_name = {s.name: s for s in servers}
    names = list(by_name)
    states = {s.server: s for s in readiness.servers}
    skus = {a.name: a.sku for a in readiness.accounts}
    rg_of = {s.name: _rg_id(bu, s.target_resource_group) for s in servers}
    windows, zone = windows_of(migration)

    # Preflight: reads, then every problem at once (waiting for an appliance where a person can act).
    sites, verdicts = preflight(target, bu, servers, to)
    if not dry_run:
        sites, verdicts = await_appliances(target, bu, wave, servers, to, sites, verdicts)
    held = dict(verdicts.held)
    held |= {n: (states[n].reason, states[n].fix) for n in names if states[n].state == "blocked" and n not in held}
    blocks = {**dict.fromkeys(held, lc.ALL_ACTIONS), **verdicts.blocks}  # a readiness problem holds every write
    if held:
        logger.warning(
            "Preflight: %d of %d servers have a problem (each holds back only the writes it concerns): %s",
            len(held),
            len(servers),
            "; ".join(f"{name}: {why}" for name, (why, _) in list(held.items())[:10]),
        )
    containers = sorted({(site.fabric, site.container) for site in sites.values() if site.container})

    def vm_groups(items: list[dict]) -> list[str]:
        return sorted({rg_of[name] for name in lc.unmatched(names, verdicts.machine_ids, items)})

    attempted: dict[str, set[lc.Action]] = {name: set() for name in names}
    issued: dict[str, tuple[lc.Action, str | None]] = {}
    refused: dict[str, lc.Problem] = {}
    waits: dict[str, tuple[str, float]] = {}
    cutover_ok: set[str] | None = None
    evidence: lc.CutoverEvidence | None = None
    writes = 0
    would: Counter[str] = Counter()
    cycles, reads = 0, 0
    shown = _ProgressShown(bu, wave, to)
    since = started - JOB_LOOKBACK
    while True:
        # Observe: the containers' pages, the failed jobs, the VMs of servers without an item.
        cycles += 1
        seen = observe_task(target, vault, containers, since, vm_groups)
        since = started  # after the first read, only this run's failures are news
        reads = seen.reads
        reading = lc.read_positions(
            names, verdicts.machine_ids, rg_of, seen.items, seen.failed_jobs, seen.vms, dict(bu.tags),
            held, refused, issued,
        )  # fmt: skip
        issued = {}
        shown.show(reading.positions)

        # Decide.
        decisions = {
            name: lc.next_action(
                p, to, attempted=attempted[name], cutover_allowed=cutover_ok is None or name in cutover_ok
            )
            for name, p in reading.positions.items()
        }
        due = lc.due_writes(decisions, blocks, reading.duplicates)

        # Approve: once, before the first cutover write; the window is checked before every batch.
        cutover_due = sorted(n for n, a in due.items() if a in lc.CUTOVER_ACTIONS)
        if cutover_due and cutover_ok is None and not dry_run:
            evidence, cutover_ok = approve_cutover(bu, wave, change, approver, names, cutover_due)
        if cutover_due and cutover_ok is not None:
            due, cutover_ok, stopped = lc.gate_cutover(due, cutover_ok, lc.check_window(windows, dt.datetime.now(zone)))
            if stopped and evidence is not None and not evidence.refused:
                evidence.refused = stopped
        if dry_run:
            would.update(due.values())
            break

        # Write: the due actions in batches, none waiting on its operation.
        writes_now = _writes(bu, wave, due, by_name, sites, reading, verdicts, states, skus)
        retry_later: set[str] = set()
        for result in _issue(target, vault, writes_now, bu.limits.servers_per_task) if writes_now else []:
            if result.accepted:
                writes += 1
                attempted[result.server].add(result.action)
                issued[result.server] = (result.action, result.job)
                if result.action == "unplanned_failover" and evidence is not None:
                    evidence.cut_over.append(result.server)
            elif result.transient:
                retry_later.add(result.server)
            else:
                refused[result.server] = (
                    f"{lc.VERB[result.action]} refused: {result.code}: {result.message}",
                    "see the message; re-run the wave once fixed",
                )

        # Wait while Azure works for someone not past the timeout of that wait.
        waits, waiting = lc.track_waits(
            waits, decisions, reading.positions, set(issued) | retry_later, time.monotonic(),
            migration.timeouts.for_kind,
        )  # fmt: skip
        if not waiting and not writes_now:
            break
        time.sleep(migration.timeouts.poll_seconds)

    # Report.
    holds = lc.holding(reading.positions, held, blocks, to)
    rows = lc.report_rows(reading, decisions, holds, rg_of, to)
    report = lc.LifecycleReport(
        arrived=sum(lc.reached(p, to) for p in reading.positions.values()),
        business_unit=bu.name,
        wave=wave,
        to=to,
        dry_run=dry_run,
        servers=rows,
        writes=writes,
        would=dict(would),
        cycles=cycles,
        reads_per_cycle=reads,
        held=len(holds),
        cutover=evidence,
    )
    create_table_artifact(
        key=artifact_key(f"lifecycle-servers-{bu.name}-{wave}"),
        table=lc.stage_rows(rows),
        description=f"Every server of {wave}: stage, progress, health, reason and fix",
    )
    publish_markdown(
        f"lifecycle-summary-{bu.name}-{wave}", lc.render_lifecycle_markdown(report), f"Wave {wave} to {to}"
    )
    if evidence is not None:
        publish_markdown(
            f"cutover-evidence-{bu.name}-{wave}",
            lc.render_lifecycle_markdown(report, shown=len(rows)),
            f"Cutover evidence of {wave}: change {evidence.change or '-'}, approver {evidence.approver or '-'}",
        )
    logger.info("Wave %s to %s: %s; %d writes", wave, to, dict(report.counts), writes)
    return report


def wave_status(target: Target, bu: BusinessUnit, wave: str, servers: list[Server]) -> lc.LifecycleReport:
    """Every server's stage, read from Azure, writing nothing (`plmigrate status`), outside Prefect
    so it answers in seconds: the vault's setup (a constant), the containers' pages and the failed
    jobs (N/100 + 1), each distinct target network once, and only for servers without an item what
    their appliance discovered and the VMs of their target resource groups. Beside each stage, what
    the preflight of a run to the end would hold the server for (docs/lifecycle.md)."""
    vault = Vault(bu.resource_group, bu.vault_name)
    now = dt.datetime.now(dt.UTC)
    heartbeat = bu.migration.heartbeat_max_age_seconds if bu.migration else 900.0
    policy = bu.migration.policy if bu.migration else None
    setup = read_setup(target, vault)
    sites = {
        name: lc.resolve_appliance(setup, name, bu.vault_id, policy, now, heartbeat)
        for name in sorted({s.appliance for s in servers})
    }
    names = [s.name for s in servers]
    rg_of = {s.name: _rg_id(bu, s.target_resource_group) for s in servers}
    containers = sorted({(site.fabric, site.container) for site in sites.values() if site.container})
    seen = observe(target, vault, containers, now - JOB_LOOKBACK, lambda items: [])
    reads = seen.reads

    # An item named after its server also names its machine; only the others need the discovery read.
    known = lc.item_machines(names, seen.items)
    alone = set(lc.unmatched(names, known, seen.items))
    lonely = [s for s in servers if s.name in alone]
    site_ids = sorted({sites[s.appliance].site_for(s.source_type) for s in lonely if not sites[s.appliance].problem})
    machines: dict[str, list[dict]] = {}
    for site_id in filter(None, site_ids):
        machines[site_id], count = read_discovered_machines_counted(target, site_id)
        reads += count

    # The preflight of a run to the end, on the same reads of each distinct target network: the
    # appliances, the discovery (of servers no item stands for), the target resource groups,
    # VNets and subnets, and the test networks.
    needs_test = bu.migration is not None
    tests = _test_networks(bu, servers) if needs_test else {}
    networks = read_networks(target, _target_groups(servers), _vnets_of(tests))
    reads += networks.reads
    verdicts = lc.judge_preflight(
        servers, bu.subscription_id, sites, machines, networks.groups, networks.vnets, tests, needs_test,
        known_machines={n: known.get(n, "") for n in names if n not in alone},
    )  # fmt: skip
    machine_ids = {**known, **verdicts.machine_ids}
    vms: list[dict] = []
    for group in sorted({rg_of[n] for n in lc.unmatched(names, machine_ids, seen.items)}):
        listed, count = read_vms_counted(target, group)
        vms += listed
        reads += count
    reading = lc.read_positions(
        names, machine_ids, rg_of, seen.items, seen.failed_jobs, vms, dict(bu.tags), verdicts.held
    )
    holds = lc.holding(reading.positions, verdicts.held, verdicts.blocks, "completed")
    rows = lc.status_rows(reading, holds, rg_of)
    return lc.LifecycleReport(
        business_unit=bu.name,
        wave=wave,
        to="ready",
        servers=rows,
        cycles=1,
        reads_per_cycle=reads,
        arrived=len(rows),
        held=len(holds),
    )
