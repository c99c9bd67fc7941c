"""The sandbox refuses api-versions as ARM does: missing, malformed, or not served for the type.

Per provider family: no `api-version` gets 400 MissingApiVersionParameter, a malformed one 400
InvalidApiVersionParameter, a well-formed one the type is not served at ARM's refusal for that kind
of type (NoRegisteredProviderFound, InvalidResourceType, or InvalidApiVersionParameter for ARM's own
types), before the handler runs. And the table is complete: every route's type has an entry, and
every version the pinned SDKs and plmigrate's raw requests send is in it.
"""

from __future__ import annotations

import inspect
import json
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient

from plmigrate.azure import SITE_RECOVERY_API_VERSION, SandboxCredential
from plmigrate.sandbox import Sandbox, lro, providers
from plmigrate.sandbox.apiversions import VersionTable, requested_version, sandbox_table, served, well_formed
from plmigrate.sandbox.arm import Router, resource_type_of

SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
VAULT = "/resourceGroups/rg-migrate-finance/providers/Microsoft.RecoveryServices/vaults/rsv-x"


def call(
    sandbox: Sandbox, method: str, path: str, query: str, body: Any = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One raw HTTPS request with the sandbox's token: status, headers, JSON body (or {})."""
    url = sandbox.info.arm_url + path.format(sub=sandbox.info.subscription_id) + (f"?{query}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {sandbox.info.token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    context = ssl.create_default_context(cafile=sandbox.info.ca_file)
    try:
        with urllib.request.urlopen(request, context=context) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    return status, headers, json.loads(raw) if raw else {}


@dataclass(frozen=True)
class Family:
    """A request to one provider's type, a version it is served at, and ARM's refusal of another."""

    name: str
    path: str
    served: str
    status: int  # of a refused, well-formed version
    code: str
    says: str  # a phrase the refusal must hold


FAMILIES = [
    Family(
        "resources",
        SUB + "/resourcegroups/rg-network-hub",
        "2025-04-01",
        400,
        "InvalidApiVersionParameter",
        "The api-version '2019-01-01' is invalid. The supported versions are '2025-04-01,",
    ),
    Family(
        "network",
        SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Network/privateEndpoints/pe-x",
        "2026-03-01",
        400,
        "NoRegisteredProviderFound",
        "No registered resource provider found for location 'eastus' and API version '2019-01-01' for type "
        "'privateEndpoints'. The supported api-versions are '2023-09-01, ",
    ),
    Family(
        "network, a nested type at its parent's versions",
        SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Network/privateEndpoints/pe-x/privateDnsZoneGroups",
        "2025-05-01",
        400,
        "NoRegisteredProviderFound",
        "for type 'privateEndpoints'",
    ),
    Family(
        "privatedns (global)",
        SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Network/privateDnsZones/privatelink.x.net",
        "2024-06-01",
        400,
        "NoRegisteredProviderFound",
        "for location 'global' and API version '2019-01-01' for type 'privateDnsZones'",
    ),
    Family(
        "storage",
        SUB + "/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/stx",
        "2026-09-01",
        400,
        "NoRegisteredProviderFound",
        "for type 'storageAccounts'. The supported api-versions are '2023-01-01, ",
    ),
    Family(
        "storage, subscription-wide (no location)",
        SUB + "/providers/Microsoft.Storage/storageAccounts",
        "2025-06-01",
        404,
        "InvalidResourceType",
        "The resource type 'storageAccounts' could not be found in the namespace 'Microsoft.Storage' for api "
        "version '2019-01-01'. The supported api-versions are '2023-01-01,2023-04-01,",
    ),
    Family(
        "recoveryservices",
        SUB + VAULT,
        "2026-11-01",
        400,
        "NoRegisteredProviderFound",
        "for type 'vaults'",
    ),
    Family(
        "siterecovery",
        SUB + VAULT + "/replicationFabrics",
        SITE_RECOVERY_API_VERSION,
        400,
        "NoRegisteredProviderFound",
        "for type 'vaults/replicationFabrics'",
    ),
    Family(
        "authorization (location-less)",
        SUB + "/providers/Microsoft.Authorization/roleAssignments",
        "2022-04-01",
        404,
        "InvalidResourceType",
        "The resource type 'roleAssignments' could not be found in the namespace 'Microsoft.Authorization' for api "
        "version '2019-01-01'.",
    ),
    Family(
        "authorization at a resource group's scope",
        SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Authorization/roleDefinitions",
        "2022-04-01",
        404,
        "InvalidResourceType",
        "'roleDefinitions' could not be found in the namespace 'Microsoft.Authorization'",
    ),
    Family(
        "offazure",
        SUB + "/resourceGroups/rg-migrate-finance/providers/Microsoft.OffAzure/VMwareSites/site-x/machines",
        "2023-06-06",
        400,
        "NoRegisteredProviderFound",
        "for type 'VMwareSites'",
    ),
    Family(
        "compute",
        SUB + "/resourceGroups/rg-finance-servers/providers/Microsoft.Compute/virtualMachines",
        "2024-07-01",
        400,
        "NoRegisteredProviderFound",
        "for type 'virtualMachines'",
    ),
    Family(
        "the sandbox's operation URLs",
        SUB + "/providers/Sandbox.Operations/operations/00000000-0000-0000-0000-000000000001",
        "2026-09-01",
        404,
        "InvalidResourceType",
        "in the namespace 'Sandbox.Operations'",
    ),
]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_versions_are_refused_as_arm_refuses_them(sandbox: Sandbox, family: Family) -> None:
    status, _, body = call(sandbox, "GET", family.path, "")
    assert (status, body["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert body["error"]["message"] == "The api-version query parameter (?api-version=) is required for all requests."

    for malformed in ("latest", "2024-13-01", "2024-6-1", family.served + "-"):
        status, _, body = call(sandbox, "GET", family.path, f"api-version={malformed}")
        assert (status, body["error"]["code"]) == (400, "InvalidApiVersionParameter"), malformed
        assert body["error"]["message"].startswith(f"The api-version '{malformed}' is invalid. The supported versions")

    status, _, body = call(sandbox, "GET", family.path, "api-version=2019-01-01")
    assert (status, body["error"]["code"]) == (family.status, family.code)
    assert family.says in body["error"]["message"]

    status, _, body = call(sandbox, "GET", family.path, f"api-version={family.served}")
    code = body.get("error", {}).get("code", "")
    assert code not in {"MissingApiVersionParameter", "InvalidApiVersionParameter", "NoRegisteredProviderFound"}
    assert not (code == "InvalidResourceType" and "api version" in body["error"]["message"])


def test_site_recovery_types_are_served_at_site_recovery_versions_not_the_vaults(sandbox: Sandbox) -> None:
    # 2026-11-01 is a vault version (azure-mgmt-recoveryservices) that Site Recovery does not serve.
    status, _, body = call(sandbox, "GET", SUB + VAULT + "/replicationJobs", "api-version=2026-11-01")
    assert (status, body["error"]["code"]) == (400, "NoRegisteredProviderFound")
    assert "The supported api-versions are '2023-08-01, " in body["error"]["message"]
    assert "2026-11-01" not in body["error"]["message"].split("supported api-versions are")[1]


def test_a_refused_write_changes_nothing(sandbox: Sandbox) -> None:
    group = SUB + "/resourcegroups/rg-new"
    network = SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Network/privateDnsZones/privatelink.x.net"
    for query in ("", "api-version=2025-4-1", "api-version=2019-01-01"):
        status, _, _ = call(sandbox, "PUT", group, query, {"location": "eastus"})
        assert status == 400
        status, _, _ = call(sandbox, "PUT", network, query, {"location": "global"})
        assert status == 400
    calls_before = dict(sandbox.world.calls)
    assert call(sandbox, "GET", group, "api-version=2025-04-01")[0] == 404
    assert call(sandbox, "GET", network, "api-version=2024-06-01")[0] == 404
    assert dict(sandbox.world.calls) != calls_before  # the GETs were counted; the PUTs made nothing


def test_a_put_names_the_location_of_its_body(sandbox: Sandbox) -> None:
    path = SUB + "/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/stnew"
    body = {"location": "West Europe", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    status, _, answer = call(sandbox, "PUT", path, "api-version=2019-01-01", body)
    assert status == 400
    assert "for location 'westeurope' and API version '2019-01-01'" in answer["error"]["message"]


def test_a_refusal_names_the_location_of_the_closest_existing_resource(sandbox: Sandbox) -> None:
    # The vault is in westeurope, its resource group in eastus: ARM routes by the vault.
    vault = SUB + "/resourceGroups/rg-migrate-finance/providers/Microsoft.RecoveryServices/vaults/rsv-we"
    body = {"location": "westeurope", "sku": {"name": "Standard"}, "properties": {}}
    status, _, _ = call(sandbox, "PUT", vault, "api-version=2026-11-01", body)
    assert status in {200, 201, 202}
    for path in (vault, vault + "/privateLinkResources"):
        status, _, answer = call(sandbox, "GET", path, "api-version=2019-01-01")
        assert status == 400
        assert "for location 'westeurope' and API version '2019-01-01' for type 'vaults'" in answer["error"]["message"]
    status, _, answer = call(sandbox, "GET", vault[: vault.index("/rsv-we")] + "/rsv-gone", "api-version=2019-01-01")
    assert "for location 'eastus'" in answer["error"]["message"]


def test_the_parameter_name_is_matched_case_insensitively_and_echoed(sandbox: Sandbox) -> None:
    status, _, _ = call(sandbox, "GET", SUB + "/resourcegroups/rg-network-hub", "API-Version=2025-04-01")
    assert status == 200
    zone = SUB + "/resourceGroups/rg-network-hub/providers/Microsoft.Network/privateDnsZones/privatelink.y.net"
    status, headers, _ = call(sandbox, "PUT", zone, "Api-Version=2024-06-01", {"location": "global"})
    assert status in {200, 201, 202}
    operation = headers["Azure-AsyncOperation"]
    assert parse_qs(urlsplit(operation).query)["api-version"] == ["2024-06-01"]
    assert call(sandbox, "GET", urlsplit(operation).path, urlsplit(operation).query)[0] == 200


def test_a_repeated_parameter_is_no_version() -> None:
    assert requested_version("api-version=2024-06-01&API-VERSION=2024-06-01") == "2024-06-01,2024-06-01"
    assert not well_formed("2024-06-01,2024-06-01")
    assert requested_version("api-version=&x=1") is None


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("2024-06-01", True),
        ("2022-04-01-preview", True),
        ("2021-03-01-privatepreview", True),
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("2024-13-01", False),
        ("2024-6-01", False),
        ("latest", False),
        ("2024-06-01-", False),
        ("v1", False),
    ],
)
def test_well_formed_versions(version: str, ok: bool) -> None:
    assert well_formed(version) is ok


# -- the table is complete -------------------------------------------------------------------------


def _fill(template: str) -> str:
    path = template.replace("{scope:path}", "subscriptions/s/resourceGroups/rg")
    while "{" in path:
        start = path.index("{")
        path = path[:start] + "x" + path[path.index("}", start) + 1 :]
    return path


def test_every_route_addresses_a_type_in_the_table() -> None:
    router = Router()
    lro.register(router)
    for provider in providers.ALL:
        provider.register(router)
    table = sandbox_table()
    missing = sorted(
        {
            f"{route.method} {route.template}"
            for route in router.routes
            if table.lookup(resource_type_of(_fill(route.template))) is None
        }
    )
    assert not missing, f"routes whose resource type has no API_VERSIONS entry in its provider module: {missing}"


SDK_CLIENTS = [
    ResourceManagementClient,
    NetworkManagementClient,
    PrivateDnsManagementClient,
    StorageManagementClient,
    RecoveryServicesClient,
    AuthorizationManagementClient,
    SiteRecoveryManagementClient,
]


def _sent_by(client_class: type, **pinned: Any) -> list[tuple[str, str, str]]:
    """(operation, resource type, api-version) for every request the client's operation groups
    build, as the client is configured in plmigrate/azure.py (its default versions, or `pinned`)."""
    client = client_class(SandboxCredential("x"), "00000000-0000-0000-0000-000000000000", **pinned)
    sent: list[tuple[str, str, str]] = []
    for group in dir(client):
        if group.startswith("_"):
            continue
        try:
            operations = getattr(client, group)
        except Exception:  # a multi-API client's group missing from its default profile
            continue
        if not type(operations).__name__.endswith("Operations"):
            continue
        module = sys.modules[type(operations).__module__]
        own_module = type(operations).__module__.endswith(f"_{group}_operations")
        for name, builder in vars(module).items():
            if not (name.startswith("build_") and name.endswith("_request") and callable(builder)):
                continue
            if not own_module and not name.startswith(f"build_{group}_"):
                continue
            kwargs: dict[str, Any] = {}
            for parameter in inspect.signature(builder).parameters.values():
                if parameter.kind in {parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL}:
                    continue
                if parameter.default is inspect.Parameter.empty:
                    kwargs[parameter.name] = "x"
            # What the operation passes its builder: the client's configured version (TypeSpec
            # SDKs), the group's profile version (multi-API), else the builder's own default.
            version = getattr(getattr(operations, "_config", None), "api_version", None) or getattr(
                operations, "_api_version", None
            )
            if version:
                kwargs["api_version"] = version
            try:
                request = builder(**kwargs)
            except KeyError:  # a body-taking builder: it wants to be told the body's type
                request = builder(**kwargs, content_type="application/json")
            split = urlsplit(request.url)
            version = parse_qs(split.query).get("api-version", [""])[0]
            sent.append((f"{client_class.__name__}.{group} {name}", resource_type_of(split.path), version))
    return sent


@pytest.mark.parametrize("client_class", SDK_CLIENTS, ids=lambda c: c.__name__)
def test_the_pinned_sdks_versions_are_served(client_class: type) -> None:
    pinned = {"api_version": SITE_RECOVERY_API_VERSION} if client_class is SiteRecoveryManagementClient else {}
    table = sandbox_table()
    sent = _sent_by(client_class, **pinned)
    emulated = [(op, rtype, version) for op, rtype, version in sent if table.lookup(rtype) is not None]
    assert emulated, f"no operation of {client_class.__name__} addresses an emulated type: is the check blind?"
    refused: dict[tuple[str, str, str], list[str]] = {}
    for op, rtype, version in emulated:
        if not table.accepts(rtype, version):
            registered, _, module = table.lookup(rtype)  # type: ignore[misc]
            refused.setdefault((registered, version, module), []).append(op)
    lines = [
        f"{registered} at {version}: add it to API_VERSIONS in {module} ({len(ops)} operations, e.g. {ops[0]})"
        for (registered, version, module), ops in sorted(refused.items())
    ]
    assert not lines, (
        f"{client_class.__module__.split('.')[2]} sends api-versions the sandbox does not serve (an SDK "
        "upgrade?): " + "; ".join(lines)
    )


def test_the_raw_requests_versions_are_served() -> None:
    from tasks import replication

    table = sandbox_table()
    raw = {
        "Microsoft.RecoveryServices/vaults/replicationProtectedItems": SITE_RECOVERY_API_VERSION,
        "Microsoft.OffAzure/VMwareSites/machines": replication.OFFAZURE_API_VERSION,
        "Microsoft.OffAzure/serverSites/machines": replication.OFFAZURE_API_VERSION,
        "Microsoft.Compute/virtualMachines": replication.COMPUTE_API_VERSION,
        "Microsoft.Network/virtualNetworks": replication.NETWORK_API_VERSION,
        "Microsoft.Resources/subscriptions": "2022-12-01",  # tasks/inspect.py's subscription read
    }
    refused = [f"{rtype} at {version}" for rtype, version in raw.items() if not table.accepts(rtype, version)]
    assert not refused, f"plmigrate's raw requests send versions the sandbox does not serve: {refused}"


def test_a_type_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        VersionTable([("a", {"Microsoft.X/y": served("2024-01-01")}), ("b", {"microsoft.x/Y": served("2024-01-01")})])
