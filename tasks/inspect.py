"""Read-only checks made before the first write: does everything the business unit names exist
and suit Azure Migrate? A bad input fails here, with every problem listed, and nothing is written."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.core.rest import HttpRequest
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, clients, rest
from plmigrate.model import BusinessUnit, StorageAccountRef
from plmigrate.rules import AccountFacts
from tasks.replication import read_resource_group
from tasks.retrying import ARM_RETRIES


def account_facts(account: dict, blob_service: dict) -> AccountFacts:
    """An account's ARM JSON (and its blob service's) as the plain facts rules decide on."""
    props = account.get("properties") or {}
    acls = props.get("networkAcls") or {}
    retention = (blob_service.get("properties") or {}).get("deleteRetentionPolicy") or {}
    return AccountFacts(
        name=account["name"],
        id=account["id"],
        kind=account.get("kind") or "",
        sku_name=(account.get("sku") or {}).get("name", ""),
        location=account.get("location", ""),
        blob_soft_delete_enabled=bool(retention.get("enabled")),
        network_default_action=acls.get("defaultAction", "Allow"),
        bypass=acls.get("bypass", "None"),
        ip_rules=[r.get("value", "") for r in acls.get("ipRules") or []],
        vnet_rules=[r.get("id", "") for r in acls.get("virtualNetworkRules") or []],
    )


@task(name="inspect-storage-account", cache_policy=NO_CACHE, **ARM_RETRIES)
def inspect_storage_account(target: Target, account: StorageAccountRef) -> AccountFacts | str:
    """The account's facts, or a one-line problem when it does not exist."""
    az = clients(target)
    try:
        found = rest(az.storage.storage_accounts.get_properties(account.resource_group, account.name))
    except ResourceNotFoundError:
        return (
            f"storage_accounts[{account.name}]: no storage account '{account.name}' in resource group "
            f"'{account.resource_group}' of subscription {target.subscription_id} — create it or fix the name"
        )
    blob_service = rest(az.storage.blob_services.get_service_properties(account.resource_group, account.name))
    facts = account_facts(found, blob_service)
    get_run_logger().info("Read storage account %s (%s, %s)", facts.id, facts.kind, facts.sku_name)
    return facts


@task(name="inspect-subscription", cache_policy=NO_CACHE, **ARM_RETRIES)
def inspect_subscription(target: Target, subscription_id: str, tenant_id: str) -> list[str]:
    """Problems with the subscription as the credential sees it: it must be reachable and belong
    to the business unit's tenant, before anything is written."""
    az = clients(target)
    response = az.resources.send_request(  # the SDK client's raw call, through the same pipeline
        HttpRequest("GET", f"/subscriptions/{subscription_id}?api-version=2022-12-01")
    )
    if response.status_code in (401, 403, 404):
        return [
            f"subscription_id: the credential cannot see subscription {subscription_id} (HTTP {response.status_code})"
            " — sign in to the right tenant (az login --tenant ...) or fix subscription_id in the file"
        ]
    response.raise_for_status()
    seen_tenant = (response.json().get("tenantId") or "").lower()
    if seen_tenant and seen_tenant != tenant_id.lower():
        return [
            f"tenant_id: subscription {subscription_id} belongs to tenant {seen_tenant}, not {tenant_id}"
            " — fix tenant_id (or subscription_id) in the business-unit file"
        ]
    return []


@task(name="inspect-network", cache_policy=NO_CACHE, **ARM_RETRIES)
def inspect_network(target: Target, business_unit: BusinessUnit) -> list[str]:
    """Problems with the subnet for private endpoints and the VNets to link the zones to."""
    az = clients(target)
    problems: list[str] = []
    subnet = business_unit.private_endpoint_subnet
    try:
        az.network.subnets.get(subnet.resource_group, subnet.vnet, subnet.subnet)
    except ResourceNotFoundError:
        problems.append(
            f"private_endpoint_subnet: subnet '{subnet.subnet}' of VNet '{subnet.vnet}' in resource group "
            f"'{subnet.resource_group}' does not exist — create it or point at an existing subnet"
        )
    for i, link in enumerate(business_unit.dns_zone_links):
        try:
            az.network.virtual_networks.get(link.resource_group, link.vnet)
        except ResourceNotFoundError:
            problems.append(
                f"dns_zone_links[{i}]: VNet '{link.vnet}' in resource group '{link.resource_group}' does not "
                "exist — fix the name or remove the link"
            )
    return problems


@task(name="inspect-resource-groups", cache_policy=NO_CACHE, **ARM_RETRIES)
def inspect_resource_groups(target: Target, names: list[str]) -> frozenset[str]:
    """Those of `names` that exist. Step 1 creates the others; what goes into an existing group
    starts without waiting for a task of its own (an existing group is left as it is: its tags are
    its owner's)."""
    logger = get_run_logger()
    found = frozenset(name for name in names if read_resource_group(target, name))
    for name in names:
        if name in found:
            logger.info("Resource group %s already exists", name)
        else:
            logger.info("Resource group %s does not exist yet: step 1 creates it", name)
    return found
