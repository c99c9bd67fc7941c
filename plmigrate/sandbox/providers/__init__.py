"""The emulated resource providers, one module each: `register(router)` adds its routes,
`seed(world)` creates what the scenario says already exists."""

from __future__ import annotations

from plmigrate.sandbox.providers import (
    authorization,
    compute,
    network,
    offazure,
    privatedns,
    recoveryservices,
    resources,
    siterecovery,
    storage,
)

ALL = (resources, network, privatedns, storage, recoveryservices, authorization, offazure, compute, siterecovery)
