"""Moving a wave's servers: after the landing zone and readiness (flows/wave.py), drive every
server forward to the target stage through the stages before it, reading each server's stage from
Azure Site Recovery on every cycle.

    preflight (reads only; every problem at once, each blocking only the servers it concerns)
      → cycle: read the containers' items + failed jobs (~N/100 + constant reads)
               → decide per server (plmigrate.lifecycle.next_action, pure)
               → [before the first cutover write: approval (ticket, approver, servers) + window]
               → issue the due writes in batches, none waiting on its operation
      → until every server has arrived, is stuck, or its wait ran past the business unit's timeout
      → report (servers table, stage counts, cutover evidence)

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

from plmigrate import lifecycle as lc
from plmigrate import progress
from plmigrate.approval import wait_mode
from plmigrate.azure import Target
from plmigrate.errors import InputError
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
    read_discovered_machines,
    read_machines_task,
    read_network_task,
    read_resource_group_task,
    read_setup,
    read_setup_task,
    read_vnets_task,
)
from tasks.reporting import artifact_key, publish_markdown

JOB_LOOKBACK = dt.timedelta(days=30)  # Site Recovery keeps job history about this long
CUTOVER_ACTIONS = frozenset({"unplanned_failover", "commit", "remove"})


class CutoverApproval(RunInput):
    """Approve the cutover of this wave: the change ticket, who approves, and which servers
    ("all", or names separated by commas). Untick approve to refuse: nothing is cut over."""

    change_ticket: str
    approver: str
    servers: str = "all"
    approve: bool = True


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
) -> tuple[dict[str, lc.ApplianceSite], dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """Every read-only check before the first write, all at once: the appliances' registration and
    process servers, what they discovered, the target resource groups, VNets and subnets, and the
    test networks. Returns (appliance -> site, server -> machine ID, server -> target VNet ID,
    server -> (problem, fix))."""
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
    held: dict[str, tuple[str, str]] = {}

    # What each registered appliance discovered, one paged list per discovery site.
    site_ids = sorted({sites[s.appliance].site_for(s.source_type) for s in servers if not sites[s.appliance].problem})
    listed = {sid: read_machines_task.submit(target, sid) for sid in site_ids if sid}
    machines = {sid: future.result() for sid, future in listed.items()}
    machine_ids: dict[str, str] = {}
    for server in servers:
        site = sites[server.appliance]
        if site.problem:
            held[server.name] = (site.problem, site.fix)
            continue
        machine, problem, fix = lc.discovered_machine(
            server.name, server.source_type, site, machines.get(site.site_for(server.source_type), [])
        )
        if machine:
            machine_ids[server.name] = machine
        if problem:
            held[server.name] = (problem, fix)

    # Target resource groups, VNets (found by name in the subscription) and subnets; the test
    # networks, isolated from the targets.
    groups = sorted({s.target_resource_group for s in servers})
    group_futures = {g: read_resource_group_task.submit(target, g) for g in groups}
    listed_vnets = read_vnets_task.submit(target)
    exists = {g: f.result() for g, f in group_futures.items()}
    by_id = {str(v["id"]).lower(): v for v in listed_vnets.result()}
    by_name: dict[str, list[dict]] = {}
    for vnet in by_id.values():
        by_name.setdefault(str(vnet["name"]).lower(), []).append(vnet)
    tests = {s.name: _test_network(bu, s) for s in servers}
    for test_id in {t.vnet_id(bu.subscription_id).lower() for t in tests.values()} - set(by_id):
        found = read_network_task(target, test_id)  # another subscription's, or missing
        if found is not None:
            by_id[test_id] = found
    needs_test = lc.rank(to) >= lc.rank("test-migrated")
    target_vnet_ids: dict[str, str] = {}
    for server in servers:
        candidates = by_name.get(server.target_vnet.lower(), [])
        if len(candidates) == 1:
            target_vnet_ids[server.name] = str(candidates[0]["id"])
    target_vnets = {vid: by_id[vid.lower()] for vid in set(target_vnet_ids.values())}
    for server in servers:
        if server.name in held:
            continue
        candidates = by_name.get(server.target_vnet.lower(), [])
        if not exists[server.target_resource_group]:
            held[server.name] = (
                f"target resource group {server.target_resource_group} does not exist",
                "create it, or correct target_resource_group in the inventory",
            )
        elif not candidates:
            held[server.name] = (
                f"target VNet {server.target_vnet} is not in subscription {bu.subscription_id}",
                "create it, or correct target_vnet",
            )
        elif len(candidates) > 1:
            where = ", ".join(sorted(str(c["id"]).split("/resourceGroups/")[1].split("/")[0] for c in candidates))
            held[server.name] = (
                f"{len(candidates)} VNets are named {server.target_vnet} (resource groups {where})",
                "rename one, so each target VNet name is unique in the subscription",
            )
        elif server.target_subnet.lower() not in lc.subnet_names(candidates[0]):
            held[server.name] = (
                f"target subnet {server.target_subnet} is not in {candidates[0]['id']}",
                "create the subnet, or correct target_subnet",
            )
        elif needs_test:
            test = tests[server.name]
            test_id = test.vnet_id(bu.subscription_id)
            problem = lc.test_network_problem(test_id, test.subnet, by_id.get(test_id.lower()), target_vnets)
            if problem:
                held[server.name] = problem
    return sites, machine_ids, target_vnet_ids, held


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
        disk_type="Premium_LRS" if skus.get(server.replication_account, "").startswith("Premium") else "Standard_LRS",
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


def _nobody_can_resume() -> bool:
    from prefect.runtime import deployment
    from prefect.settings import PREFECT_API_URL

    return wait_mode(True, PREFECT_API_URL.value(), deployment.id) == "poll"


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
    elif _nobody_can_resume():
        # A terminal run on a temporary Prefect server: a pause could only time out.
        return lc.CutoverEvidence(refused="no change ticket, and no Prefect UI to ask for one — pass --change"), set()
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
                poll_interval=10,
                key=f"cutover-{wave}",
            )
        except FlowPauseTimeout:
            return lc.CutoverEvidence(refused="nobody approved the cutover before the pause timed out"), set()
        if not answer.approve or not answer.change_ticket.strip():
            refused = f"refused by {answer.approver or 'the approver'}" if not answer.approve else "no change ticket"
            return lc.CutoverEvidence(approver=answer.approver, refused=refused), set()
        evidence = lc.CutoverEvidence(change=answer.change_ticket.strip(), approver=answer.approver.strip())
        if answer.servers.strip().lower() not in ("", "all"):
            asked = {n.strip().lower() for n in answer.servers.split(",") if n.strip()}
            chosen = {n for n in chosen if n.lower() in asked}
            evidence.servers = sorted(chosen)
    windows, zone = windows_of(bu.migration)
    now = dt.datetime.now(zone)
    check = lc.check_window(windows, now)
    evidence.approved_at = now.isoformat(timespec="seconds")
    evidence.window = check.describe()
    if not check.inside:
        evidence.refused = check.describe()
        return evidence, set()
    logger.info("Cutover of %s approved by %s under change %s", wave, evidence.approver, evidence.change)
    return evidence, chosen


def _publish_progress(artifact_id: object, counts: dict[str, int], done: int, total: int) -> None:
    update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / max(total, 1))  # type: ignore[arg-type]
    progress.report(done, total)


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
    states = {s.server: s for s in readiness.servers}
    skus = {a.name: a.sku for a in readiness.accounts}

    sites, machine_ids, vnet_ids, held = preflight(target, bu, servers, to)
    for server in servers:
        if states[server.name].state == "blocked" and server.name not in held:
            held[server.name] = (states[server.name].reason, states[server.name].fix)
    if held:
        logger.warning(
            "Preflight: %d of %d servers held: %s",
            len(held),
            len(servers),
            "; ".join(f"{name}: {why}" for name, (why, _) in list(held.items())[:10]),
        )
    containers = sorted({(site.fabric, site.container) for site in sites.values() if site.container})
    rg_of = {s.name: _rg_id(bu, s.target_resource_group) for s in servers}
    our_tags = dict(bu.tags)

    def vm_groups(items: list[dict]) -> list[str]:
        found, _ = lc.match_items(by_name, machine_ids, items)
        return sorted({rg_of[name] for name in by_name if name not in found})

    attempted: dict[str, set[lc.Action]] = {name: set() for name in by_name}
    issued: dict[str, tuple[lc.Action, str | None]] = {}
    refused: dict[str, tuple[str, str]] = {}
    first_wait: dict[str, tuple[str, float]] = {}
    cutover_ok: set[str] | None = None
    evidence: lc.CutoverEvidence | None = None
    writes = 0
    would: Counter[str] = Counter()
    cycles, reads = 0, 0
    artifact_id = create_progress_artifact(
        progress=0.0, key=artifact_key(f"lifecycle-progress-{bu.name}-{wave}"), description=f"Servers of {wave} at {to}"
    )
    since = started - JOB_LOOKBACK
    shown: dict[str, int] = {}
    while True:
        cycles += 1
        seen = observe_task(target, vault, containers, since, vm_groups)
        since = started  # after the first read, only this run's failures are news
        reads = seen.reads
        items, duplicates = lc.match_items(by_name, machine_ids, seen.items)
        failed = lc.latest_jobs(seen.failed_jobs)
        ours, others = lc.migrated_vms(seen.vms, our_tags)
        positions: dict[str, lc.Position] = {}
        for name in by_name:
            item = items.get(name)
            vm = lc.vm_id(rg_of[name], name).lower()
            position = lc.stage_of(item, lc.job_for(failed, name, item), vm in ours, vm in others)
            if name in issued and cycles > 1:
                position = lc.with_issued(position, *issued[name])
            if name in duplicates:
                position = lc.Position("blocked", duplicates[name], "remove the extra protected item (keep one)")
            elif name in refused:
                position = lc.Position("blocked", refused[name][0], refused[name][1], resume=position.effective_stage)
            elif name in held and item is None:
                position = lc.Position("blocked", held[name][0], held[name][1], resume="ready")
            positions[name] = position
        issued.clear()

        decisions = {
            name: lc.next_action(
                p, to, attempted=attempted[name], cutover_allowed=cutover_ok is None or name in cutover_ok
            )
            for name, p in positions.items()
        }
        due = {name: d.action for name, d in decisions.items() if d.kind == "act" and d.action}
        # A preflight problem stops new writes for its server (its stage is still read and shown).
        due = {name: action for name, action in due.items() if name not in held and name not in duplicates}
        cutover_due = sorted(n for n, a in due.items() if a in CUTOVER_ACTIONS)
        if cutover_due and cutover_ok is None and not dry_run:
            evidence, cutover_ok = approve_cutover(bu, wave, change, approver, by_name, cutover_due)
        if cutover_due and cutover_ok is not None:
            # Approved once; the window is checked again before every cutover batch.
            windows, zone = windows_of(migration)
            check = lc.check_window(windows, dt.datetime.now(zone))
            if not check.inside and evidence is not None and not evidence.refused:
                evidence.refused = f"the cutover window closed during the run: {check.describe()}"
                cutover_ok = set()
            due = {n: a for n, a in due.items() if a not in CUTOVER_ACTIONS or n in cutover_ok}

        reached = sum(lc.reached(p, to) for p in positions.values())
        counts = Counter(p.stage for p in positions.values())
        if dict(counts) != shown:
            logger.info("Wave %s: %s", wave, ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
            shown = dict(counts)
        _publish_progress(artifact_id, dict(counts), reached, len(positions))

        if dry_run:
            would.update(due.values())
            break
        writes_now = []
        for name, action in due.items():
            server = by_name[name]
            site = sites[server.appliance]
            item = items.get(name)
            ref = ItemRef(site.fabric, site.container, str(item["name"]) if item else name)
            if action == "enable":
                writes_now.append(
                    _enable_write(bu, server, states[name], site, machine_ids[name], vnet_ids[name], skus)
                )
            else:
                writes_now.append(_action_write(bu, wave, server, action, ref))
        retry_later: set[str] = set()
        if writes_now:
            batches = [
                issue_writes.submit(target, vault, batch) for batch in chunked(writes_now, bu.limits.servers_per_task)
            ]
            results: list[Issued] = [r for future in batches for r in future.result()]
            for result in results:
                if result.accepted:
                    writes += 1
                    attempted[result.server].add(result.action)
                    issued[result.server] = (result.action, result.job)
                    if result.action in ("unplanned_failover",) and evidence is not None:
                        evidence.cut_over.append(result.server)
                elif result.transient:
                    retry_later.add(result.server)
                else:
                    refused[result.server] = (
                        f"{lc.VERB[result.action]} refused: {result.code}: {result.message}",
                        "see the message; re-run the wave once fixed",
                    )

        # Wait while Azure works for someone not past the timeout of that wait.
        now = time.monotonic()
        waiting = False
        for name, decision in decisions.items():
            if decision.kind != "wait" and name not in issued and name not in retry_later:
                first_wait.pop(name, None)
                continue
            kind = lc.wait_kind(positions[name])
            began = first_wait.setdefault(name, (kind, now))
            if began[0] != kind:
                first_wait[name] = began = (kind, now)
            if now - began[1] < migration.timeouts.for_kind(kind):
                waiting = True
        if not waiting and not writes_now:
            break
        time.sleep(migration.timeouts.poll_seconds)

    rows = [lc.server_stage(name, positions[name], items.get(name), rg_of[name]) for name in by_name]
    for row in rows:
        decision = decisions[row.server]
        if row.server in held and row.stage != "blocked" and not lc.reached(positions[row.server], to):
            row.reason, row.fix = f"{row.reason}; held: {held[row.server][0]}", held[row.server][1]
        elif decision.kind == "stuck" and row.stage != "blocked" and not lc.reached(positions[row.server], to):
            row.reason = f"{row.reason}; {decision.reason}" if decision.reason not in row.reason else row.reason
        elif decision.kind == "wait" and not lc.reached(positions[row.server], to):
            row.reason = f"{row.reason} (still on its way at the timeout; a re-run picks it up)"
    report = lc.LifecycleReport(
        arrived=sum(lc.reached(p, to) for p in positions.values()),
        business_unit=bu.name,
        wave=wave,
        to=to,
        dry_run=dry_run,
        servers=rows,
        writes=writes,
        would=dict(would),
        cycles=cycles,
        reads_per_cycle=reads,
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
    """Every server's stage, read from Azure, writing nothing (`plmigrate status`): the same reads
    as one cycle of the lifecycle, outside Prefect, so it answers in seconds."""
    vault = Vault(bu.resource_group, bu.vault_name)
    now = dt.datetime.now(dt.UTC)
    heartbeat = bu.migration.heartbeat_max_age_seconds if bu.migration else 900.0
    policy = bu.migration.policy if bu.migration else None
    setup = read_setup(target, vault)
    sites = {
        name: lc.resolve_appliance(setup, name, bu.vault_id, policy, now, heartbeat)
        for name in sorted({s.appliance for s in servers})
    }
    machine_ids: dict[str, str] = {}
    listed: dict[str, list[dict]] = {}
    for server in servers:
        site = sites[server.appliance]
        site_id = site.site_for(server.source_type)
        if site.problem or not site_id:
            continue
        if site_id not in listed:
            listed[site_id] = read_discovered_machines(target, site_id)
        machine, _, _ = lc.discovered_machine(server.name, server.source_type, site, listed[site_id])
        if machine:
            machine_ids[server.name] = machine
    by_name = {s.name: s for s in servers}
    rg_of = {s.name: _rg_id(bu, s.target_resource_group) for s in servers}
    containers = sorted({(site.fabric, site.container) for site in sites.values() if site.container})

    def vm_groups(items: list[dict]) -> list[str]:
        found, _ = lc.match_items(by_name, machine_ids, items)
        return sorted({rg_of[name] for name in by_name if name not in found})

    seen = observe(target, vault, containers, now - JOB_LOOKBACK, vm_groups)
    items, duplicates = lc.match_items(by_name, machine_ids, seen.items)
    failed = lc.latest_jobs(seen.failed_jobs)
    ours, others = lc.migrated_vms(seen.vms, dict(bu.tags))
    rows = []
    for name in by_name:
        item = items.get(name)
        vm = lc.vm_id(rg_of[name], name).lower()
        position = lc.stage_of(item, lc.job_for(failed, name, item), vm in ours, vm in others)
        site = sites[by_name[name].appliance]
        if name in duplicates:
            position = lc.Position("blocked", duplicates[name], "remove the extra protected item (keep one)")
        elif item is None and position.stage == "ready" and site.problem:
            position = lc.Position("blocked", site.problem, site.fix, resume="ready")
        rows.append(lc.server_stage(name, position, item, rg_of[name]))
    return lc.LifecycleReport(
        business_unit=bu.name,
        wave=wave,
        to="ready",
        servers=rows,
        cycles=1,
        reads_per_cycle=seen.reads,
        arrived=len(rows),
    )
