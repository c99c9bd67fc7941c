"""Site Recovery's clock: real time plus an offset the admin API advances, and durations scaled.

Nothing runs in the background: jobs and replication are computed from timestamps whenever they
are read, so advancing the clock (`POST /_sandbox/siterecovery/advance`) moves every job and every
initial replication forward at once. Offset and scale live in `world.meta` (saved with the state).
"""

from __future__ import annotations

import time

from plmigrate.sandbox.world import World

_KEY = "sandbox:siterecovery:clock"


def _state(world: World) -> dict[str, float]:
    return world.meta_of(_KEY)


def now(world: World) -> float:
    return time.time() + float(_state(world).get("offset", 0.0))


def advance(world: World, seconds: float) -> float:
    """Move Site Recovery's clock forward; returns the total offset."""
    with world.lock:
        state = _state(world)
        state["offset"] = float(state.get("offset", 0.0)) + max(0.0, seconds)
        return state["offset"]


def scale(world: World) -> float:
    found = _state(world).get("scale")
    return float(found) if found is not None else world.scenario.site_recovery.time_scale


def set_scale(world: World, value: float) -> None:
    _state(world)["scale"] = value


def duration(world: World, name: str) -> float:
    """A scenario duration (`site_recovery.<name>_seconds`) times the current scale."""
    return float(getattr(world.scenario.site_recovery, f"{name}_seconds")) * scale(world)


def stamp(seconds: float) -> str:
    """ISO 8601 UTC with fractional seconds, as Site Recovery writes its times."""
    whole = int(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((seconds - whole) * 1e7):07d}Z"
