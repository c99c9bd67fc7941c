"""How a wave logs the state each server ends in: per group, not per server. One record per
group and reason lists the ready servers by name; a server that is blocked gets its own line with
the reason and the fix. A record per server cost a Prefect API log record each, and with several
groups at once their threads queued on the log handler's lock (docs/performance.md). Every server
is still named in the run's logs and is a row of the servers table artifact."""

from __future__ import annotations

import logging
from typing import Any

from plmigrate.wave import ServerState


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
