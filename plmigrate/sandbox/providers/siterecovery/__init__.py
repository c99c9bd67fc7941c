"""Microsoft.RecoveryServices Site Recovery (agent-based, InMageRcm): a provider of its own.

Modules: `routes` (the REST surface under a vault), `infra` (what appliance registration makes:
fabric, container, policy, mapping, provider; their live health), `items` (the protected item
state machine), `jobs` (one per write, settled when read), `checks` (Azure's preconditions read
from the other providers' state), `errors` (job errors and refusals), `clock` (scaled time the
admin API advances). Nothing exists before an appliance registers, so `seed` is empty.
"""

from __future__ import annotations

from plmigrate.sandbox.arm import Router
from plmigrate.sandbox.providers.siterecovery import routes
from plmigrate.sandbox.providers.siterecovery.infra import RegistrationFailed, register_appliance
from plmigrate.sandbox.providers.siterecovery.routes import API_VERSIONS
from plmigrate.sandbox.world import World

__all__ = ["API_VERSIONS", "RegistrationFailed", "register", "register_appliance", "seed"]


def register(router: Router) -> None:
    routes.register(router)


def seed(world: World) -> None:
    # Fabrics, containers and policies appear when an appliance registers with a vault.
    pass
