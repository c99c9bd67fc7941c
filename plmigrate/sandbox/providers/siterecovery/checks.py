"""Azure's preconditions for agent-based replication, read from the world the other providers keep.

Each check returns the problems it finds (empty: fine). They are plain functions of the world, so a
landing zone prepared wrong fails here as it would in Azure: the vault's Site Recovery endpoint,
the appliance's view of DNS (through the sandbox's on-prem DNS logic, `plmigrate.sandbox.dns`), the
cache account's roles, network access, SKU and soft delete, and the replication targets.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from plmigrate.sandbox import connections, dns
from plmigrate.sandbox.providers.siterecovery import errors
from plmigrate.sandbox.providers.siterecovery.errors import Problem
from plmigrate.sandbox.world import World, key

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
ROLE_NAMES = {
    CONTRIBUTOR: "Contributor",
    BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    BLOB_DATA_OWNER: "Storage Blob Data Owner",
}
ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"
# How long a derived answer may be reused when nothing was written meanwhile: a GET may still end an
# operation of another provider lazily (a VNet link becoming Succeeded), which is not a write.
MEMO_SECONDS = 1.0
_MEMO: weakref.WeakKeyDictionary[World, dict[tuple[Any, ...], tuple[int, float, Any]]] = weakref.WeakKeyDictionary()
T = TypeVar("T")


def _memo(world: World, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()`, reused while the world has seen no write (and for at most MEMO_SECONDS): a page
    of 100 items settling their enable jobs checks the same vault and cache account once, not 100
    times (each check scans the world: endpoints, role assignments, DNS zones)."""
    now = time.monotonic()
    with world.lock:
        store = _MEMO.setdefault(world, {})
        hit = store.get(key)
        if hit is not None and hit[0] == world.version and now - hit[1] < MEMO_SECONDS:
            return hit[2]  # type: ignore[no-any-return]
        value = compute()
        if len(store) > 1000:
            store.clear()
        store[key] = (world.version, now, value)
        return value


def _approved_endpoints(world: World, target_id: str, group: str) -> list[dict[str, Any]]:
    """The private endpoints whose connection to the target for `group` is Approved."""
    found = []
    for record in connections.for_target(world, target_id):
        props = record["properties"]
        groups = {g.lower() for g in props.get("groupIds") or []}
        if group.lower() in groups and props["privateLinkServiceConnectionState"]["status"] == "Approved":
            endpoint = world.get(props["privateEndpoint"]["id"])
            if endpoint is not None:
                found.append(endpoint)
    return found


def vault_reachability(world: World, vault: dict[str, Any]) -> list[Problem]:
    """What the appliance sees of the vault's Site Recovery service: reachable (public access, or an
    approved endpoint) and, where a private endpoint exists, its FQDNs resolving to its IPs."""
    public = (vault.get("properties") or {}).get("publicNetworkAccess", "Enabled")
    return _memo(world, ("vault", vault["id"].lower(), public), lambda: _vault_reachability(world, vault))


def _vault_reachability(world: World, vault: dict[str, Any]) -> list[Problem]:
    public = (vault.get("properties") or {}).get("publicNetworkAccess", "Enabled") != "Disabled"
    approved = _approved_endpoints(world, vault["id"], "AzureSiteRecovery")
    if not approved:
        if public:
            # No endpoint, or one still pending, with public access on: the appliance talks to the
            # service over the internet.
            return []
        return [errors.vault_endpoint_not_approved(vault["name"])]
    problems: list[Problem] = []
    with world.lock:
        for endpoint in approved:
            for config in endpoint["properties"].get("customDnsConfigs") or []:
                fqdn, want = config.get("fqdn", ""), list(config.get("ipAddresses") or [])
                got = dns.resolve(world, fqdn).ips
                if sorted(got) != sorted(want):
                    problems.append(errors.vault_dns_unresolved(vault["name"], fqdn, got, want))
    return problems


def _role_guids(world: World, principal_id: str, resource_id: str) -> set[str]:
    """Role definition GUIDs the principal holds at the resource or any scope above it."""
    target = key(resource_id)
    held = set()
    for assignment in world.by_type("Microsoft.Authorization/roleAssignments"):
        props = assignment.get("properties") or {}
        if str(props.get("principalId", "")).lower() != principal_id.lower():
            continue
        scope = key(props.get("scope") or assignment["id"].lower().split("/providers/microsoft.authorization/")[0])
        if target == scope or target.startswith(scope + "/") or scope in {"", "/"}:
            held.add(str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower())
    return held


def cache_account(world: World, vault: dict[str, Any], account_id: str) -> list[Problem]:
    """The cache (log) storage account: exists, Standard, no blob soft delete, the vault identity's
    roles, and reachable from on-prem when it denies public access."""
    principal = ((vault.get("identity") or {}).get("principalId")) or ""
    key = ("cache", vault["id"].lower(), principal, account_id.lower())
    return _memo(world, key, lambda: _cache_account(world, vault, account_id))


def _cache_account(world: World, vault: dict[str, Any], account_id: str) -> list[Problem]:
    account = world.get(account_id)
    if account is None:
        return [errors.missing_target("storage account", account_id)]
    name = account["name"]
    problems: list[Problem] = []
    sku = (account.get("sku") or {}).get("name", "Standard_LRS")
    premium = sku.lower().startswith("premium")
    if premium:
        problems.append(errors.premium_cache(name, sku))
    blob = world.get(f"{account['id']}/blobServices/default")
    retention = ((blob or {}).get("properties") or {}).get("deleteRetentionPolicy") or {}
    if retention.get("enabled"):
        problems.append(errors.soft_delete_cache(name, int(retention.get("days") or 0)))
    principal = ((vault.get("identity") or {}).get("principalId")) or ""
    needed = [CONTRIBUTOR, BLOB_DATA_OWNER if premium else BLOB_DATA_CONTRIBUTOR]
    held = _role_guids(world, principal, account["id"]) if principal else set()
    lacking = [ROLE_NAMES[g] for g in needed if g not in held]
    if lacking:
        problems.append(errors.roles_missing(name, principal or "(none: the vault has no identity)", lacking))
    props = account.get("properties") or {}
    denied = props.get("publicNetworkAccess") == "Disabled" or (
        (props.get("networkAcls") or {}).get("defaultAction") == "Deny"
    )
    if denied:
        approved = _approved_endpoints(world, account["id"], "blob")
        if not approved:
            problems.append(errors.blob_endpoint_not_approved(name))
        else:
            with world.lock:
                for endpoint in approved[:1]:
                    for config in endpoint["properties"].get("customDnsConfigs") or []:
                        fqdn, want = config.get("fqdn", ""), list(config.get("ipAddresses") or [])
                        got = dns.resolve(world, fqdn).ips
                        if sorted(got) != sorted(want):
                            problems.append(errors.blob_dns_unresolved(name, fqdn, got, want))
    return problems


def subnet_of(world: World, network_id: str, subnet: str | None) -> dict[str, Any] | None:
    if not subnet:
        return None
    return world.get(f"{network_id}/subnets/{subnet}")


def targets(
    world: World,
    *,
    resource_group_id: str | None,
    network_id: str | None,
    subnet: str | None,
    test_network_id: str | None = None,
    test_subnet: str | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    if resource_group_id and not world.exists(resource_group_id):
        problems.append(errors.missing_target("resource group", resource_group_id))
    if network_id:
        if not world.exists(network_id):
            problems.append(errors.missing_target("virtual network", network_id))
        elif subnet and subnet_of(world, network_id, subnet) is None:
            problems.append(errors.missing_target("subnet", f"{network_id}/subnets/{subnet}"))
    if test_network_id:
        if not world.exists(test_network_id):
            problems.append(errors.missing_target("test virtual network", test_network_id))
        elif test_subnet and subnet_of(world, test_network_id, test_subnet) is None:
            problems.append(errors.missing_target("test subnet", f"{test_network_id}/subnets/{test_subnet}"))
    return problems


def machine(world: World, appliance: str, machine_id: str) -> list[Problem]:
    found = world.get(machine_id) if machine_id else None
    meta = world.meta_of(machine_id) if found is not None else {}
    if found is None or str(meta.get("appliance", "")).lower() != appliance.lower():
        return [errors.machine_not_discovered(machine_id, appliance)]
    if not (found["properties"].get("mobilityAgent") or {}).get("installed"):
        return [errors.no_mobility_agent(found["properties"]["displayName"])]
    return []
