"""Steps 1 and 4: private endpoints, the private DNS zones they need, the zones' VNet links and
each endpoint's zone group (which writes the A records). FQDNs and IPs are read from the endpoint
Azure made, never built by us."""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, arm_error, clients, rest
from plmigrate.errors import StepFailed
from plmigrate.facts import ConnectionFacts, EndpointFacts, ZoneId
from plmigrate.naming import arm_id, vnet_link_name
from plmigrate.ownership import Verdict, endpoint_repair_body, endpoint_verdict, link_verdict, zone_group_plan
from tasks.retrying import ARM_RETRIES, SETTLED, finish, read_settled

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


def _foreign(step: str, verdict: Verdict, resource: str) -> StepFailed:
    return StepFailed(step=step, resource=resource, reason=verdict.reason, fix=verdict.fix)


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
    approve on the target, it is requested again as a manual connection for the owner. An
    endpoint of this name that is not ours (another target, group, subnet or region) is never
    written, whatever its provisioning state; one of ours left Failed is PUT again from its own
    body (its tags and settings kept)."""
    az = clients(target)
    logger = get_run_logger()
    endpoint_id = arm_id(target.subscription_id, resource_group, "Microsoft.Network/privateEndpoints", name)

    def read() -> dict | None:
        try:
            return rest(az.network.private_endpoints.get(resource_group, name))
        except ResourceNotFoundError:
            return None

    existing = read_settled(read, target.operation_seconds)
    verdict = endpoint_verdict(existing, subnet_id=subnet_id, target_id=target_id, group_id=group_id, location=location)
    if verdict.kind == "foreign":
        raise _foreign("create endpoint", verdict, endpoint_id)
    if verdict.kind == "ours":
        assert existing is not None
        logger.info("Private endpoint %s already connects %s (%s)", existing["id"], target_id, group_id)
        return endpoint_facts(existing, resource_group)
    if dry_run:
        logger.info("Would %s private endpoint %s -> %s (%s)", verdict.kind, name, target_id, group_id)
        return EndpointFacts(
            id=endpoint_id,
            name=name,
            resource_group=resource_group,
            target_id=target_id,
            group_id=group_id,
            subnet_id=subnet_id,
            connection=ConnectionFacts(name=name, status="(not created)"),
            written=True,
        )

    def put(body: dict) -> dict:
        poller = az.network.private_endpoints.begin_create_or_update(resource_group, name, body)
        return rest(finish(poller, target.operation_seconds, step="create endpoint", resource=endpoint_id))

    if verdict.kind == "repair":
        assert existing is not None
        logger.info("Private endpoint %s was left %s; repairing it as it is", existing["id"], _state(existing))
        made = put(endpoint_repair_body(existing))
    else:
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
            made = put(body)
        except HttpResponseError as exc:
            if exc.status_code != 403 and arm_error(exc)[0] not in _NO_AUTO_APPROVAL:
                raise
            logger.info("No auto-approval on %s (%s); requesting a manual connection", target_id, arm_error(exc)[0])
            body["properties"] = {"subnet": {"id": subnet_id}, "manualPrivateLinkServiceConnections": [connection]}
            made = put(body)
    facts = endpoint_facts(made, resource_group)
    facts.written = True
    logger.info("Created private endpoint %s -> %s (%s): %s", facts.id, target_id, group_id, facts.connection.status)
    return facts


def _state(resource: dict) -> str:
    return (resource.get("properties") or {}).get("provisioningState") or "Succeeded"


@task(name="ensure-private-dns-zone", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_private_dns_zone(
    target: Target, *, resource_group: str, zone: str, vnet_ids: list[str], tags: dict[str, str], dry_run: bool = False
) -> ZoneId:
    """The private DNS zone exists (location global) and is linked to every VNet in `vnet_ids`.
    Existing links, records and other settings of the zone are left alone: a VNet already linked
    under any name counts, a link of our name to another VNet is refused, never re-pointed."""
    az = clients(target)
    logger = get_run_logger()

    def read() -> dict | None:
        try:
            return rest(az.privatedns.private_zones.get(resource_group, zone))
        except ResourceNotFoundError:
            return None

    found = read_settled(read, target.operation_seconds)
    zone_id = arm_id(target.subscription_id, resource_group, "Microsoft.Network/privateDnsZones", zone)
    if found is not None and _state(found) == "Succeeded":
        zone_id = found["id"]
        logger.info("Private DNS zone %s already exists", zone_id)
    else:
        # Missing, or left Failed by an interrupted create: the same PUT makes or repairs it.
        if dry_run:
            logger.info(
                "Would create private DNS zone %s in %s, linked to %s", zone, resource_group, ", ".join(vnet_ids)
            )
            return ZoneId(zone_id, written=True)
        # A zone being repaired keeps its own tags: it may be someone else's.
        keep_tags = found.get("tags") if found is not None else tags
        poller = az.privatedns.private_zones.begin_create_or_update(
            resource_group, zone, {"location": "global", "tags": keep_tags}
        )
        zone_id = ZoneId(
            finish(poller, target.operation_seconds, step="create private DNS zone", resource=zone_id).id, written=True
        )
        logger.info("Created private DNS zone %s", zone_id)
    links: dict[str, dict] = {}  # VNet ID -> the link to it, whatever its name
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

            found = read_settled(read_link, target.operation_seconds) or found
        vnet = ((found.get("properties") or {}).get("virtualNetwork") or {}).get("id", "").lower()
        links[vnet] = found
    for vnet_id in vnet_ids:
        existing = links.get(vnet_id.lower())
        if existing is None:
            # Not linked yet: under our name, unless that name is taken (by a link to another VNet).
            link_name = vnet_link_name(vnet_id)
            try:
                existing = rest(az.privatedns.virtual_network_links.get(resource_group, zone, link_name))
            except ResourceNotFoundError:
                existing = None
        else:
            link_name = existing["name"]
        verdict = link_verdict(existing, vnet_id)
        link_id = f"{zone_id}/virtualNetworkLinks/{link_name}"
        if verdict.kind == "foreign":
            raise _foreign("link private DNS zone", verdict, link_id)
        if verdict.kind == "ours":
            continue
        if dry_run:
            logger.info("Would link %s to VNet %s (%s)", zone_id, vnet_id, link_name)
            continue
        # A link left Failed is repaired under its own name with its own tags (a second link to
        # one VNet is refused, and it may be someone else's link).
        body = {
            "location": "global",
            "tags": existing.get("tags") if existing is not None else tags,
            "properties": {
                "virtualNetwork": {"id": vnet_id},
                "registrationEnabled": bool(((existing or {}).get("properties") or {}).get("registrationEnabled")),
            },
        }
        poller = az.privatedns.virtual_network_links.begin_create_or_update(resource_group, zone, link_name, body)
        made = finish(poller, target.operation_seconds, step="link private DNS zone", resource=link_id)
        logger.info("Linked %s to VNet %s (%s)", zone_id, vnet_id, made.id)
    return zone_id if isinstance(zone_id, ZoneId) else ZoneId(zone_id)


@task(name="ensure-zone-group", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_zone_group(target: Target, endpoint: EndpointFacts, zone_ids: list[str], dry_run: bool = False) -> bool:
    """The endpoint's zone group names every zone in `zone_ids` (which writes its A records).
    Returns whether anything was written. A group that already points at the right zones is
    adopted whatever its name; one naming another zone of the same name, or another group
    (Azure Policy's) without our zones, fails the step with the exact fix (zone_group_plan)."""
    az = clients(target)
    logger = get_run_logger()
    if dry_run and endpoint.written:
        logger.info("Would give %s a zone group naming %s", endpoint.name, ", ".join(zone_ids))
        return True

    def read(name: str) -> dict | None:
        try:
            return rest(az.network.private_dns_zone_groups.get(endpoint.resource_group, endpoint.name, name))
        except ResourceNotFoundError:
            return None

    groups = [rest(g) for g in az.network.private_dns_zone_groups.list(endpoint.name, endpoint.resource_group)]
    # A group still being written (a crashed run's PUT) is waited for: a PUT over it is refused.
    groups = [
        g
        if (g.get("properties") or {}).get("provisioningState", "Succeeded") in SETTLED
        else read_settled(lambda name=g["name"]: read(name), target.operation_seconds)
        for g in groups
    ]
    groups = [g for g in groups if g is not None]
    plan = zone_group_plan(groups, zone_ids, endpoint_name=endpoint.name, resource_group=endpoint.resource_group)
    group_id = f"{endpoint.id}/privateDnsZoneGroups/{plan.group_name}"
    if plan.action == "foreign":
        raise StepFailed(step="create zone group", resource=endpoint.id, reason=plan.reason, fix=plan.fix)
    if plan.action == "none":
        adopted = f" (adopted: '{plan.group_name}' was not made by plmigrate)" if plan.adopted else ""
        logger.info("Zone group of %s already names %s%s", endpoint.id, ", ".join(zone_ids), adopted)
        return False
    if dry_run:
        logger.info("Would make the zone group of %s name %s", endpoint.id, ", ".join(zone_ids))
        return True
    body = {"properties": {"privateDnsZoneConfigs": plan.configs}}
    poller = az.network.private_dns_zone_groups.begin_create_or_update(
        endpoint.resource_group, endpoint.name, plan.group_name, body
    )
    finish(poller, target.operation_seconds, step="create zone group", resource=group_id)
    logger.info("Zone group %s of %s now names %s", plan.group_name, endpoint.id, ", ".join(zone_ids))
    return True


@task(name="read-private-endpoint", cache_policy=NO_CACHE, **ARM_RETRIES)
def read_private_endpoint(target: Target, endpoint: EndpointFacts) -> EndpointFacts:
    """The endpoint as Azure shows it now (its connection state changes when the owner acts)."""
    az = clients(target)
    return endpoint_facts(
        rest(az.network.private_endpoints.get(endpoint.resource_group, endpoint.name)), endpoint.resource_group
    )
