"""Microsoft.network (being built: see issue 2)."""

from __future__ import annotations

from plmigrate.sandbox.arm import Router
from plmigrate.sandbox.world import World


def register(router: Router) -> None:
    pass


def seed(world: World) -> None:
    pass
