"""The per-server end of a wave: each task takes a group of servers (not one: DESIGN.md's
Prefect costs) and records the state each one ends in.

Logging is per group, not per server: one record per group and reason listing the ready servers
by name, and one line per server only for a server that is blocked (with its reason and fix). A
record per server cost a Prefect API log record each, and with several groups running at once
their threads queued on the log handler's lock (docs/performance.md). Every server is still
named in the run's logs and is a row of the servers table artifact.

This is the seam for replication: a later step takes the ready servers of each group and
enables replication for them (the portal does it in batches of 10)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.inventory import Server
from plmigrate.rules import CacheChoice
from plmigrate.wave import Problem, ServerState, server_state


def log_states(logger: logging.Logger | logging.LoggerAdapter[Any], states: list[ServerState]) -> None:
    """One record per reason for the ready servers (naming each), one per blocked server."""
    ready: dict[str, list[str]] = {}
    for state in states:
        if state.state == "ready":
            ready.setdefault(state.reason, []).append(state.server)
        else:
            logger.warning("server %s: blocked: %s. Fix: %s", state.server, state.reason, state.fix)
    for reason, names in ready.items():
        logger.info("%d servers ready (%s): %s", len(names), reason, ", ".join(names))


@task(name="record-server-states", cache_policy=NO_CACHE)
def record_server_states(
    servers: list[Server],
    choices: dict[str, CacheChoice],
    account_problems: dict[str, Problem],
    dns_problems: dict[tuple[str, str], Problem],
    vault_key: str,
) -> list[ServerState]:
    states = [server_state(s, choices[s.name], account_problems, dns_problems, vault_key) for s in servers]
    log_states(get_run_logger(), states)
    return states
