"""The wave without Prefect: the yardstick for bench/wave.py.

A plain script doing what `flows.wave.run_wave` does: the landing zone and the wave's accounts
through bench/graph.py (the task functions' own bodies, `task.fn`, in the flow's graph order on a
bare thread pool, so every ARM call is the one the flow makes, through the same client factory
and ARM pacer), DNS per appliance once each name's records exist, then every server's state from
plmigrate.wave's pure functions, logged per group as tasks.servers.log_states logs (to a plain
logger). The table and summary the flow publishes as artifacts are written to files.

The task bodies call `get_run_logger()`, which raises `MissingContextError` outside a flow or task
run. They run inside `prefect.logging.disable_run_logger()`, Prefect's documented way to call a
task's `.fn` without a run: `get_run_logger()` then returns a disabled logger. No flow run, task
run, state, event, log record or artifact is made; nothing talks to a Prefect server.

What the baseline does not do, because only Prefect does it: task-level retries (none fire on a
run without faults), the Prefect UI's artifacts, and pausing for a human (the benchmark's
accounts are all approvable; a pending connection is polled for, as the flow does when
`pause_in_ui` is off).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.graph import Graph, dns_check, outcome, settle_accounts, start_landing_zone, validate
from plmigrate.azure import Target
from plmigrate.inventory import Server
from plmigrate.model import BusinessUnit
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
from tasks.servers import log_states

VAULT = "vault"  # flows.wave.VAULT
log = logging.getLogger("bench.baseline")


def run_baseline(
    target: Target, bu: BusinessUnit, wave: str, servers: list[Server], out_dir: Path, workers: int = 64
) -> WaveReport:
    """The wave's steps, as flows.wave.run_wave takes them, without Prefect."""
    from prefect.logging import disable_run_logger

    from flows.private_link import account_reports

    nameservers = {
        name: target.appliance_nameservers(bu.appliance(name).endpoints())
        for name in sorted({s.appliance for s in servers})
    }
    with disable_run_logger(), ThreadPoolExecutor(max_workers=workers) as pool:
        graph = Graph(pool)
        inspection = validate(target, bu, pool)
        accounts = {a.name: a for a in inspection.accounts}
        choices = choose_cache_accounts(servers, accounts, bu)
        needed = [accounts[name] for name in accounts_needed(servers, choices)]
        log.info("Wave %s: %d servers, %d storage accounts", wave, len(servers), len(needed))

        # The landing zone and the accounts in graph order, DNS per appliance once records exist.
        lz = start_landing_zone(target, bu, inspection, needed, graph)
        sides = {VAULT: (lz.vault_endpoint, lz.vault_zone_group)} | {
            name: (side["endpoint"], side["zone_group"]) for name, side in lz.accounts.items()
        }
        checks = {
            (appliance, part): dns_check(bu, graph, endpoint, zone_group, asked, f"{part} from appliance {appliance}")
            for appliance, asked in nameservers.items()
            for part, (endpoint, zone_group) in sides.items()
        }
        for future in (*lz.groups, lz.vault, lz.asr_zone, lz.vault_endpoint, lz.vault_zone_group):
            future.result()
        prepared, approved, failures = settle_accounts(target, bu, lz)
        reports = account_reports(bu, needed, prepared, approved)
        account_problems = {name: describe_failure(exc) for name, exc in failures.items()}
        dns_problems: dict[tuple[str, str], Problem] = {}
        for (appliance, part), future in checks.items():
            if part != VAULT and part not in reports:
                continue
            endpoint = reports[part].endpoint if part in reports else None
            if endpoint is not None and endpoint.dns != prepared[part][2].dns:
                future = dns_check(bu, graph, endpoint, None, nameservers[appliance], part)
            result = outcome(future)
            if isinstance(result, BaseException):
                dns_problems[(appliance, part)] = describe_failure(result)

        # The servers' states, in groups of servers_per_task, as flows.wave.record_servers makes them
        states: list[ServerState] = []
        for group in chunked(servers, bu.limits.servers_per_task):
            done = [server_state(s, choices[s.name], account_problems, dns_problems, VAULT) for s in group]
            log_states(log, done)
            states += done
    order = {s.name: i for i, s in enumerate(servers)}
    states.sort(key=lambda s: order[s.server])
    report = WaveReport(
        business_unit=bu.name,
        wave=wave,
        vault_id=lz.vault.result().id,
        accounts=list(reports.values()),
        account_problems=account_problems,
        servers=states,
    )
    # What the flow publishes as artifacts, written where a script would put it.
    (out_dir / "baseline-servers.json").write_text(json.dumps(server_rows(states)))
    (out_dir / "baseline-summary.md").write_text(render_wave_markdown(report))
    return report
