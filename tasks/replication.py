"""Site Recovery I/O of the per-server lifecycle: read the vault's replication setup, what each
appliance discovered, the protected items of a container (paged), the jobs, the migrated VMs; and
issue writes in batches. Decisions live in plmigrate.lifecycle; nothing here decides.

Writes never wait on their long-running operation: each is sent with polling off, its job named
from the `Azure-AsyncOperation` (or `Location`) header, and its progress is read later from the
container's paged list and the jobs list, so no thread blocks on one server (docs/lifecycle.md).
A batch is not retried as a whole (a retried POST could act twice): each write's outcome is
recorded, and one that failed for a transient reason is simply due again next cycle.

The plain functions (`read_*`) are also what `plmigrate status` calls, outside Prefect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import SITE_RECOVERY_API_VERSION, Target, arm_error, clients, is_transient, rest
from plmigrate.lifecycle import Action, job_name
from plmigrate.naming import arm_id
from tasks.retrying import ARM_RETRIES

OFFAZURE_API_VERSION = "2023-06-06"
COMPUTE_API_VERSION = "2024-07-01"
NETWORK_API_VERSION = "2024-05-01"


@dataclass(frozen=True)
class Vault:
    """Which vault the Site Recovery calls go to (every method takes both)."""

    resource_group: str
    name: str


@dataclass(frozen=True)
class ItemRef:
    """Where a server's protected item lives (or will): fabric, container, item name."""

    fabric: str
    container: str
    name: str


@dataclass(frozen=True)
class Write:
    """One write to issue: an action on a server's item, with its REST-shaped body (None: no body)."""

    server: str
    action: Action
    ref: ItemRef
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Issued:
    """What became of a write: accepted (with its job, when Azure named one), or refused with ARM's
    code and message (`transient`: worth issuing again next cycle)."""

    server: str
    action: Action
    accepted: bool
    job: str | None = None
    code: str = ""
    message: str = ""
    transient: bool = False


# -- reading -------------------------------------------------------------------------------------


def _get_one(target: Target, path: str, api_version: str) -> dict[str, Any] | None:
    response = clients(target).siterecovery.send_request(HttpRequest("GET", f"{path}?api-version={api_version}"))
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def read_setup(target: Target, vault: Vault) -> dict[str, list[dict[str, Any]]]:
    """The vault's Site Recovery setup, REST-shaped: fabrics (with their process servers), their
    containers and the containers' policy mappings, the replication policies and the appliances."""
    sr = clients(target).siterecovery
    fabrics = [rest(f) for f in sr.replication_fabrics.list(vault.resource_group, vault.name)]
    containers = []
    for fabric in fabrics:
        containers += [
            rest(c)
            for c in sr.replication_protection_containers.list_by_replication_fabrics(
                vault.resource_group, vault.name, fabric["name"]
            )
        ]
    mappings = []
    for container in containers:
        fabric_name = container["id"].split("/replicationFabrics/")[1].split("/")[0]
        mappings += [
            rest(m)
            for m in sr.replication_protection_container_mappings.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric_name, container["name"]
            )
        ]
    return {
        "fabrics": fabrics,
        "containers": containers,
        "mappings": mappings,
        "policies": [rest(p) for p in sr.replication_policies.list(vault.resource_group, vault.name)],
        "appliances": [rest(a) for a in sr.replication_appliances.list(vault.resource_group, vault.name)],
    }


def read_discovered_machines(target: Target, site_id: str) -> list[dict[str, Any]]:
    """What an appliance discovered: the machines of its OffAzure site (VMware or physical)."""
    return read_discovered_machines_counted(target, site_id)[0]


@dataclass(frozen=True)
class Observation:
    """One read of everything a wave's stages are derived from, and what it cost in ARM reads."""

    items: list[dict[str, Any]]
    failed_jobs: list[dict[str, Any]]
    vms: list[dict[str, Any]]
    reads: int


def observe(
    target: Target,
    vault: Vault,
    containers: list[tuple[str, str]],
    since: dt.datetime,
    vm_groups: Callable[[list[dict[str, Any]]], list[str]],
) -> Observation:
    """Read the wave's containers (every page, containers concurrently), the failed jobs since
    `since`, then the VMs of the resource groups `vm_groups(items)` names (where a server without an
    item may have its migrated VM): about N/100 + a constant reads, whatever N."""
    sr = clients(target).siterecovery
    reads = 0

    vault_id = arm_id(target.subscription_id, vault.resource_group, "Microsoft.RecoveryServices/vaults", vault.name)

    def pages_of(fabric: str, container: str) -> tuple[list[dict[str, Any]], int]:
        # The same list operation as the client's list_by_replication_protection_containers, read as
        # ARM's JSON: turning each item into an SDK model and back cost ~2.5 ms an item, 12 s a poll
        # cycle at 5,000 servers, and the decisions read ARM's JSON anyway. Same API version as the
        # client's operations (the factory pins both).
        path = f"{vault_id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}"
        items_path = f"{path}/replicationProtectedItems"
        return _list_counted(target, items_path, SITE_RECOVERY_API_VERSION, missing_ok=False)

    items: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(containers)))) as pool:
        for found, count in pool.map(lambda fc: pages_of(*fc), containers):
            items += found
            reads += count
    listed = sr.replication_jobs.list(
        vault.resource_group,
        vault.name,
        filter=f"startTime eq '{since.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}' and jobStatus eq 'Failed'",
    )
    failed: list[dict[str, Any]] = []
    for page in listed.by_page():
        reads += 1
        failed += [rest(j) for j in page]
    vms: list[dict[str, Any]] = []
    for group in vm_groups(items):
        path = f"{group}/providers/Microsoft.Compute/virtualMachines"
        found, count = _list_counted(target, path, COMPUTE_API_VERSION)
        vms += found
        reads += count
    return Observation(items=items, failed_jobs=failed, vms=vms, reads=reads)


def _list_counted(
    target: Target, path: str, api_version: str, missing_ok: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Every item of an ARM list and the reads (pages) it took; a list whose parent does not exist
    is empty when `missing_ok`, an error otherwise."""
    client = clients(target).siterecovery
    url: str | None = f"{path}?api-version={api_version}"
    found: list[dict[str, Any]] = []
    count = 0
    while url:
        response = client.send_request(HttpRequest("GET", url))
        count += 1
        if response.status_code == 404 and missing_ok:
            break
        response.raise_for_status()
        body = response.json()
        found += body.get("value") or []
        url = body.get("nextLink")
    return found, count


def read_discovered_machines_counted(target: Target, site_id: str) -> tuple[list[dict[str, Any]], int]:
    """What an appliance discovered, and the reads (pages) it took."""
    return _list_counted(target, f"{site_id}/machines", OFFAZURE_API_VERSION)


def read_vms_counted(target: Target, resource_group_id: str) -> tuple[list[dict[str, Any]], int]:
    """The VMs of a resource group, and the reads (pages) it took."""
    return _list_counted(
        target, f"{resource_group_id}/providers/Microsoft.Compute/virtualMachines", COMPUTE_API_VERSION
    )


def read_resource_group(target: Target, name: str) -> bool:
    """Whether a resource group of the target's subscription exists."""
    try:
        clients(target).resources.resource_groups.get(name)
        return True
    except ResourceNotFoundError:
        return False


def read_vnets_counted(target: Target) -> tuple[list[dict[str, Any]], int]:
    """Every VNet of the target's subscription, REST-shaped (subnets and peerings included), and the
    reads (pages) it took: the inventory names target VNets without their resource group."""
    vnets: list[dict[str, Any]] = []
    count = 0
    for page in clients(target).network.virtual_networks.list_all().by_page():
        count += 1
        vnets += [rest(v) for v in page]
    return vnets, count


def read_network(target: Target, vnet_id: str) -> dict[str, Any] | None:
    """A VNet by ARM ID, REST-shaped (subnets and peerings included), or None when missing."""
    return _get_one(target, vnet_id, NETWORK_API_VERSION)


@dataclass(frozen=True)
class Networks:
    """What the preflight judges targets on: which target resource groups exist, the VNets by
    lower-cased ID (the subscription's, and test networks read by ID), and the reads it took."""

    groups: dict[str, bool]
    vnets: dict[str, dict[str, Any]]
    reads: int


def read_networks(target: Target, groups: list[str], test_vnet_ids: list[str]) -> Networks:
    """Each distinct target resource group (at once), the subscription's VNets (one paged list),
    then each distinct test VNet that list does not hold (another subscription's, or none), once:
    the same reads for a run's preflight and for `status`."""
    wanted = sorted(set(groups))
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(wanted) + 1))) as pool:
        listing = pool.submit(read_vnets_counted, target)
        found = dict(zip(wanted, pool.map(lambda g: read_resource_group(target, g), wanted), strict=True))
        listed, reads = listing.result()
    reads += len(wanted)
    vnets = {str(v["id"]).lower(): v for v in listed}
    for test_id in sorted({t.lower() for t in test_vnet_ids} - set(vnets)):
        reads += 1
        vnet = read_network(target, test_id)
        if vnet is not None:
            vnets[test_id] = vnet
    return Networks(found, vnets, reads)


# Prefect tasks over the reads, for the flow (status calls the functions directly).
read_setup_task = task(name="read-site-recovery-setup", cache_policy=NO_CACHE, **ARM_RETRIES)(read_setup)
read_machines_task = task(name="read-discovered-machines", cache_policy=NO_CACHE, **ARM_RETRIES)(
    read_discovered_machines
)
observe_task = task(name="read-server-stages", cache_policy=NO_CACHE, **ARM_RETRIES)(observe)
read_networks_task = task(name="read-target-networks", cache_policy=NO_CACHE, **ARM_RETRIES)(read_networks)


# -- writing ----------------------------------------------------------------------------------------


def _send(target: Target, vault: Vault, write: Write) -> Issued:
    """Issue one write without waiting for its operation; name its job from the response."""
    sr = clients(target).siterecovery.replication_protected_items
    headers: dict[str, str] = {}

    def keep_headers(response: Any) -> None:
        http = response.http_response
        for name in ("Azure-AsyncOperation", "Location"):
            value = http.headers.get(name)
            if value and name not in headers:
                headers[name] = value

    where = (vault.resource_group, vault.name, write.ref.fabric, write.ref.container, write.ref.name)
    options: dict[str, Any] = {"polling": False, "raw_response_hook": keep_headers}
    try:
        if write.action == "enable":
            sr.begin_create(*where, write.body, **options)
        elif write.action == "test_failover":
            sr.begin_test_failover(*where, write.body, **options)
        elif write.action == "test_failover_cleanup":
            sr.begin_test_failover_cleanup(*where, write.body, **options)
        elif write.action == "unplanned_failover":
            sr.begin_unplanned_failover(*where, write.body, **options)
        elif write.action == "commit":
            sr.begin_failover_commit(*where, **options)
        elif write.action == "remove":
            sr.begin_delete(*where, write.body, **options)
        else:  # pragma: no cover - Action is a closed set
            raise ValueError(write.action)
    except HttpResponseError as exc:
        code, message = arm_error(exc)
        return Issued(write.server, write.action, False, code=code, message=message, transient=is_transient(exc))
    operation = headers.get("Azure-AsyncOperation") or headers.get("Location")
    return Issued(write.server, write.action, True, job=job_name(operation))


@task(name="issue-writes", cache_policy=NO_CACHE)
def issue_writes(target: Target, vault: Vault, writes: list[Write]) -> list[Issued]:
    """Issue a batch of writes (one action kind or several), one after the other, each paced by
    the client factory's ARM budget; log each server's outcome by name."""
    logger = get_run_logger()
    results = []
    for write in writes:
        issued = _send(target, vault, write)
        if issued.accepted:
            logger.info("server %s: %s issued (job %s)", write.server, write.action, issued.job or "?")
        else:
            logger.warning(
                "server %s: %s refused: %s: %s%s",
                write.server,
                write.action,
                issued.code,
                issued.message,
                " (will try again)" if issued.transient else "",
            )
        results.append(issued)
    return results
