"""The per-server end of a wave: each task takes a group of servers (not one: DESIGN.md's
Prefect costs) and records the state each one ends in, one log line per server, naming it.

This is the seam for replication: a later step takes the ready servers of each group and
enables replication for them (the portal does it in batches of 10)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.inventory import Server
from plmigrate.rules import CacheChoice
from plmigrate.wave import Problem, ServerState, server_state


@task(name="record-server-states", cache_policy=NO_CACHE)
def record_server_states(
    servers: list[Server],
    choices: dict[str, CacheChoice],
    account_problems: dict[str, Problem],
    dns_problems: dict[tuple[str, str], Problem],
    vault_key: str,
) -> list[ServerState]:
    logger = get_run_logger()
    states = [server_state(s, choices[s.name], account_problems, dns_problems, vault_key) for s in servers]
    for state in states:
        if state.state == "ready":
            logger.info("server %s: ready (%s)", state.server, state.reason)
        else:
            logger.warning("server %s: blocked: %s. Fix: %s", state.server, state.reason, state.fix)
    return states
