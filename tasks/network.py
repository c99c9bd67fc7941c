"""Steps 1 and 4: private endpoints, the private DNS zones they need, the zones' VNet links and
each endpoint's zone group (which writes the A records). FQDNs and IPs are read from the endpoint
Azure made, never built by us."""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, arm_error, clients, rest
from plmigrate.errors import StepFailed
from plmigrate.facts import ConnectionFacts, EndpointFacts
from plmigrate.naming import ZONE_GROUP, arm_id, vnet_link_name, zone_config_name
from tasks.retrying import ARM_RETRIES, SETTLED, read_settled

# Codes ARM answers when the endpoint's creator may not approve on the target: the connection
# must then be requested as a manual one, for the owner to approve.
_NO_AUTO_APPROVAL = {"LinkedAuthorizationFailed", "AuthorizationFailed", "PrivateEndpointNotAutoApprovable"}


def endpoint_facts(endpoint: dict, resource_group: str) -> EndpointFacts:
    props = endpoint.get("properties") or {}
    manual = bool(props.get("manualPrivateLinkServiceConnections"))
    conns = props.get("manualPrivateLinkServiceConnections") or props.get("privateLinkServiceConnections") or []
    conn = conns[0] if conns else {"name": "", "properties": {}}
    cprops = conn.get("properties") or {}
    state = cprops.get("privateLinkServiceConnectionState") or {}
    dns: dict[str, list[str]] = {}
    for config in props.get("customDnsConfigs") or []:
        dns.setdefault(config["fqdn"].lower(), []).extend(config.get("ipAddresses") or [])
    return EndpointFacts(
        id=endpoint["id"],
        name=endpoint["name"],
        resource_group=resource_group,
        target_id=cprops.get("privateLinkServiceId", ""),
        group_id=(cprops.get("groupIds") or [""])[0],
        subnet_id=(props.get("subnet") or {}).get("id", ""),
        dns=dns,
        connection=ConnectionFacts(
            name=conn.get("name", ""),
            status=state.get("status", "Pending"),
            description=state.get("description", ""),
            manual=manual,
        ),
    )


def _matches(endpoint: dict, subnet_id: str, target_id: str, group_id: str) -> bool:
    props = endpoint.get("properties") or {}
    if props.get("provisioningState") not in (None, "Succeeded"):
        return False
    if (props.get("subnet") or {}).get("id", "").lower() != subnet_id.lower():
        return False
    for conn in (props.get("privateLinkServiceConnections") or []) + (
        props.get("manualPrivateLinkServiceConnections") or []
    ):
        cprops = conn.get("properties") or {}
        if cprops.get("privateLinkServiceId", "").lower() == target_id.lower() and group_id.lower() in [
            g.lower() for g in cprops.get("groupIds") or []
        ]:
            return True
    return False


@task(name="ensure-private-endpoint", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_private_endpoint(
    target: Target,
    *,
    resource_group: str,
    name: str,
    location: str,
    subnet_id: str,
    target_id: str,
    group_id: str,
    tags: dict[str, str],
    dry_run: bool = False,
) -> EndpointFacts:
    """A private endpoint in `subnet_id` connected to `target_id` for `group_id`.

    The connection is requested for automatic approval; where ARM says our principal may not
    approve on the target, it is requested again as a manual connection for the owner."""
    az = clients(target)
    logger = get_run_logger()

    def read() -> dict | None:
        try:
            return rest(az.network.private_endpoints.get(resource_group, name))
        except ResourceNotFoundError:
            return None

    existing = read_settled(read)
    if existing is not None and _matches(existing, subnet_id, target_id, group_id):
        logger.info("Private endpoint %s already connects %s (%s)", existing["id"], target_id, group_id)
        return endpoint_facts(existing, resource_group)
    if existing is not None and (existing.get("properties") or {}).get("provisioningState") == "Succeeded":
        raise StepFailed(
            step="create endpoint",
            resource=existing["id"],
            reason=f"it exists but does not connect {target_id} ({group_id}) from {subnet_id}",
            fix="plmigrate does not change an endpoint made otherwise: delete or rename it, then re-run",
        )
    if dry_run:
        logger.info("Would create private endpoint %s -> %s (%s)", name, target_id, group_id)
        return EndpointFacts(
            id=arm_id(target.subscription_id, resource_group, "Microsoft.Network/privateEndpoints", name),
            name=name,
            resource_group=resource_group,
            target_id=target_id,
            group_id=group_id,
            subnet_id=subnet_id,
            connection=ConnectionFacts(name=name, status="(not created)"),
            written=True,
        )
    connection = {
        "name": name,
        "properties": {
            "privateLinkServiceId": target_id,
            "groupIds": [group_id],
            "requestMessage": "Azure Migrate replication over Private Link (plmigrate)",
        },
    }
    body = {
        "location": location,
        "tags": tags,
        "properties": {"subnet": {"id": subnet_id}, "privateLinkServiceConnections": [connection]},
    }
    try:
        made = az.network.private_endpoints.begin_create_or_update(resource_group, name, body).result()
    except HttpResponseError as exc:
        if exc.status_code != 403 and arm_error(exc)[0] not in _NO_AUTO_APPROVAL:
            raise
        logger.info("No auto-approval on %s (%s); requesting a manual connection", target_id, arm_error(exc)[0])
        body["properties"] = {"subnet": {"id": subnet_id}, "manualPrivateLinkServiceConnections": [connection]}
        made = az.network.private_endpoints.begin_create_or_update(resource_group, name, body).result()
    facts = endpoint_facts(rest(made), resource_group)
    facts.written = True
    logger.info("Created private endpoint %s -> %s (%s): %s", facts.id, target_id, group_id, facts.connection.status)
    return facts


@task(name="ensure-private-dns-zone", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_private_dns_zone(
    target: Target, *, resource_group: str, zone: str, vnet_ids: list[str], tags: dict[str, str], dry_run: bool = False
) -> str:
    """The private DNS zone exists (location global) and is linked to every VNet in `vnet_ids`.
    Existing links, records and other settings of the zone are left alone."""
    az = clients(target)
    logger = get_run_logger()

    def read() -> dict | None:
        try:
            return rest(az.privatedns.private_zones.get(resource_group, zone))
        except ResourceNotFoundError:
            return None

    found = read_settled(read)
    if found is not None and (found.get("properties") or {}).get("provisioningState", "Succeeded") == "Succeeded":
        zone_id = found["id"]
        logger.info("Private DNS zone %s already exists", zone_id)
    else:
        # Missing, or left Failed by an interrupted create: the same PUT makes or repairs it.
        if dry_run:
            logger.info(
                "Would create private DNS zone %s in %s, linked to %s", zone, resource_group, ", ".join(vnet_ids)
            )
            return arm_id(target.subscription_id, resource_group, "Microsoft.Network/privateDnsZones", zone)
        # A zone being repaired keeps its own tags: it may be someone else's.
        keep_tags = found.get("tags") if found is not None else tags
        made = az.privatedns.private_zones.begin_create_or_update(
            resource_group, zone, {"location": "global", "tags": keep_tags}
        ).result()
        zone_id = made.id
        logger.info("Created private DNS zone %s", zone_id)
    links: dict[str, tuple[str, str]] = {}  # VNet ID -> (link name, provisioning state)
    for link in az.privatedns.virtual_network_links.list(resource_group, zone):
        found = rest(link)
        if (found.get("properties") or {}).get("provisioningState", "Succeeded") not in SETTLED:
            # A link still being made (a crashed run's PUT): a write now would be refused with 409
            # AnotherOperationInProgress, so wait for its outcome before deciding.
            name = link.name

            def read_link(name: str = name) -> dict | None:
                try:
                    return rest(az.privatedns.virtual_network_links.get(resource_group, zone, name))
                except ResourceNotFoundError:
                    return None

            found = read_settled(read_link) or found
        props = found.get("properties") or {}
        vnet = (props.get("virtualNetwork") or {}).get("id", "").lower()
        links[vnet] = (found["name"], props.get("provisioningState", "Succeeded"))
    for vnet_id in vnet_ids:
        link_name, state = links.get(vnet_id.lower(), (None, None))
        if state == "Succeeded":
            continue
        if dry_run:
            logger.info("Would link %s to VNet %s", zone_id, vnet_id)
            continue
        # A link left Failed is repaired under its own name (a second link to one VNet is refused).
        link_name = link_name or vnet_link_name(vnet_id.rstrip("/").split("/")[-1])
        body = {
            "location": "global",
            "tags": tags,
            "properties": {"virtualNetwork": {"id": vnet_id}, "registrationEnabled": False},
        }
        made = az.privatedns.virtual_network_links.begin_create_or_update(
            resource_group, zone, link_name, body
        ).result()
        logger.info("Linked %s to VNet %s (%s)", zone_id, vnet_id, made.id)
    return zone_id


@task(name="ensure-zone-group", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_zone_group(target: Target, endpoint: EndpointFacts, zone_ids: list[str], dry_run: bool = False) -> bool:
    """The endpoint's zone group names every zone in `zone_ids` (which writes its A records).
    Returns whether anything was written."""
    az = clients(target)
    logger = get_run_logger()
    if dry_run and endpoint.written:
        logger.info("Would give %s a zone group naming %s", endpoint.name, ", ".join(zone_ids))
        return True

    def read() -> dict | None:
        try:
            return rest(az.network.private_dns_zone_groups.get(endpoint.resource_group, endpoint.name, ZONE_GROUP))
        except ResourceNotFoundError:
            return None

    # A group still being written (a crashed run's PUT) is waited for: a PUT over it is refused.
    group = read_settled(read) or {}
    configs = (group.get("properties") or {}).get("privateDnsZoneConfigs") or []
    present = {(c.get("properties") or {}).get("privateDnsZoneId", "").lower() for c in configs}
    if (
        all(z.lower() in present for z in zone_ids)
        and (group.get("properties") or {}).get("provisioningState", "Succeeded") == "Succeeded"
    ):
        logger.info("Zone group of %s already names %s", endpoint.id, ", ".join(zone_ids))
        return False
    if dry_run:
        logger.info("Would make the zone group of %s name %s", endpoint.id, ", ".join(zone_ids))
        return True
    wanted = list(configs) + [
        {"name": zone_config_name(z.rstrip("/").split("/")[-1]), "properties": {"privateDnsZoneId": z}}
        for z in zone_ids
        if z.lower() not in present
    ]
    body = {
        "properties": {
            "privateDnsZoneConfigs": [
                {"name": c["name"], "properties": {"privateDnsZoneId": c["properties"]["privateDnsZoneId"]}}
                for c in wanted
            ]
        }
    }
    az.network.private_dns_zone_groups.begin_create_or_update(
        endpoint.resource_group, endpoint.name, ZONE_GROUP, body
    ).result()
    logger.info("Zone group of %s now names %s", endpoint.id, ", ".join(zone_ids))
    return True


@task(name="read-private-endpoint", cache_policy=NO_CACHE, **ARM_RETRIES)
def read_private_endpoint(target: Target, endpoint: EndpointFacts) -> EndpointFacts:
    """The endpoint as Azure shows it now (its connection state changes when the owner acts)."""
    az = clients(target)
    return endpoint_facts(
        rest(az.network.private_endpoints.get(endpoint.resource_group, endpoint.name)), endpoint.resource_group
    )
