"""The pipeline's pure decisions, case by case (tables where the rule is a table)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from plmigrate.rules import (
    ASR_GROUP_ID,
    ASR_ZONE,
    BLOB_GROUP_ID,
    BLOB_ZONE,
    ROLE_BLOB_DATA_CONTRIBUTOR,
    ROLE_BLOB_DATA_OWNER,
    ROLE_CONTRIBUTOR,
    SOURCE_TYPES,
    AccountFacts,
    DnsAnswer,
    DnsResult,
    bypass_with_trusted_services,
    connection_verdict,
    dns_remediation,
    dns_verdict,
    needs_trusted_services,
    owner_instructions,
    public_zone_for,
    rejected_message,
    required_roles,
    role_assignment_name,
    role_definition_id,
    select_cache_account,
    validate_account,
    vault_numeric_id,
)

SUB = "00000000-0000-0000-0000-00000000a11e"
SCOPE = (
    f"/subscriptions/{SUB}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/stfinrepl01"
)
PRINCIPAL = "5c8d1ba3-0000-4000-8000-000000000001"


def account(name: str = "stfinrepl01", **changes: object) -> AccountFacts:
    facts = AccountFacts(
        name=name,
        id=f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{name}",
        kind="StorageV2",
        sku_name="Standard_LRS",
        location="eastus",
    )
    return dataclasses.replace(facts, **changes)


def test_constants_match_design() -> None:
    assert ROLE_CONTRIBUTOR == "b24988ac-6180-42a0-ab88-20f7382dd24c"
    assert ROLE_BLOB_DATA_CONTRIBUTOR == "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    assert ROLE_BLOB_DATA_OWNER == "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    assert (ASR_GROUP_ID, BLOB_GROUP_ID) == ("AzureSiteRecovery", "blob")
    assert (ASR_ZONE, BLOB_ZONE) == ("privatelink.siterecovery.windowsazure.com", "privatelink.blob.core.windows.net")
    assert SOURCE_TYPES == ("vmware", "hyperv", "physical", "aws", "gcp")


# -- roles ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "roles"),
    [
        ("Standard_LRS", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_CONTRIBUTOR)),
        ("Standard_GRS", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_CONTRIBUTOR)),
        ("Standard_RAGZRS", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_CONTRIBUTOR)),
        ("Premium_LRS", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_OWNER)),
        ("Premium_ZRS", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_OWNER)),
        ("premium_lrs", (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_OWNER)),
    ],
)
def test_required_roles_per_sku(sku: str, roles: tuple[str, ...]) -> None:
    assert required_roles(sku) == roles


@pytest.mark.parametrize("sku", ["", "Basic_LRS", "StandardLRS_"])
def test_unknown_sku_is_an_error(sku: str) -> None:
    with pytest.raises(ValueError, match="unknown storage SKU"):
        required_roles(sku)


def test_role_assignment_name_is_deterministic_and_case_insensitive() -> None:
    name = role_assignment_name(SCOPE, PRINCIPAL, ROLE_CONTRIBUTOR)
    assert uuid.UUID(name).version == 5
    assert role_assignment_name(SCOPE.upper() + "/", PRINCIPAL.upper(), ROLE_CONTRIBUTOR.upper()) == name
    others = {
        role_assignment_name(SCOPE, PRINCIPAL, ROLE_BLOB_DATA_CONTRIBUTOR),
        role_assignment_name(SCOPE + "x", PRINCIPAL, ROLE_CONTRIBUTOR),
        role_assignment_name(SCOPE, PRINCIPAL[:-1] + "2", ROLE_CONTRIBUTOR),
    }
    assert name not in others and len(others) == 3
    # Pinned: a change of namespace or key would make every existing deployment assign its roles twice.
    assert name == str(
        uuid.uuid5(uuid.UUID("5b0c3f4e-3c1a-4d8e-9a57-706c6d696772"), f"{SCOPE.lower()}|{PRINCIPAL}|{ROLE_CONTRIBUTOR}")
    )


def test_role_definition_id() -> None:
    assert role_definition_id(SUB, ROLE_BLOB_DATA_OWNER) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_BLOB_DATA_OWNER}"
    )


# -- account validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "role", "region", "expected"),
    [
        ({}, "replication", "eastus", []),
        ({}, "cache", "East US", []),
        ({"sku_name": "Premium_LRS"}, "replication", "eastus", []),
        ({"blob_soft_delete_enabled": True}, "replication", "eastus", []),
        (
            {"kind": "Storage"},
            "replication",
            "eastus",
            [
                "kind is Storage: a private endpoint for Azure Migrate needs a general-purpose v2 (StorageV2) "
                "account: upgrade it or choose another"
            ],
        ),
        ({"kind": "BlobStorage"}, "cache", "eastus", ["kind is BlobStorage: a private endpoint"]),
        ({"sku_name": "Premium_LRS"}, "cache", "eastus", ["SKU is Premium_LRS: a cache account must be Standard"]),
        ({"blob_soft_delete_enabled": True}, "cache", "eastus", ["blob soft delete is on: soft delete is not supp"]),
        ({"location": "westus"}, "replication", "eastus", ["it is in westus, the vault in eastus: the account must"]),
        (
            {"kind": "Storage", "sku_name": "Premium_LRS", "blob_soft_delete_enabled": True, "location": "westus"},
            "cache",
            "eastus",
            ["kind is Storage", "SKU is Premium_LRS", "blob soft delete is on", "it is in westus"],
        ),
    ],
)
def test_validate_account(changes: dict, role: str, region: str, expected: list[str]) -> None:
    problems = validate_account(account(**changes), role, region)  # type: ignore[arg-type]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


# -- trusted services ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bypass", "expected"),
    [
        ("None", "AzureServices"),
        ("", "AzureServices"),
        (None, "AzureServices"),
        ("Logging, Metrics", "Logging, Metrics, AzureServices"),
        ("Metrics,Logging", "Metrics, Logging, AzureServices"),
        ("Logging", "Logging, AzureServices"),
        ("AzureServices", None),
        ("Logging, AzureServices, Metrics", None),
        ("logging,azureservices", None),
    ],
)
def test_bypass_with_trusted_services(bypass: str | None, expected: str | None) -> None:
    assert bypass_with_trusted_services(bypass) == expected


@pytest.mark.parametrize(
    ("default_action", "bypass", "needed"),
    [
        ("Deny", "Logging, Metrics", True),
        ("Deny", "None", True),
        ("deny", "AzureServices", False),
        ("Allow", "None", False),
        ("Allow", "Logging", False),
    ],
)
def test_needs_trusted_services(default_action: str, bypass: str, needed: bool) -> None:
    facts = account(network_default_action=default_action, bypass=bypass, ip_rules=["203.0.113.0/24"])
    assert needs_trusted_services(facts) is needed


# -- cache account selection ---------------------------------------------------------------------------------------

STANDARD = account("strepl", sku_name="Standard_LRS")
PREMIUM = account("stpremrepl", sku_name="Premium_LRS")
STANDARD_SOFT_DELETE = account("strepldel", blob_soft_delete_enabled=True)
CACHE = account("stcache")
CACHE_SOFT_DELETE = account("stcachedel", blob_soft_delete_enabled=True)
CACHE_PREMIUM = account("stcacheprem", sku_name="Premium_LRS")
CACHE_V1 = account("stcachev1", kind="Storage")
CACHE_ELSEWHERE = account("stcachewest", location="westus")


@pytest.mark.parametrize(
    ("source", "replication", "candidates", "account_name", "ok", "reason"),
    [
        # Hyper-V: Standard replication account takes the data directly.
        ("hyperv", STANDARD, [CACHE], None, True, "Hyper-V replicates directly into the Standard replication"),
        ("hyperv", STANDARD, [], None, True, "no separate cache account is needed"),
        # Hyper-V + Premium: a separate Standard StorageV2 cache account in the region, no soft delete.
        ("hyperv", PREMIUM, [CACHE], "stcache", True, "Hyper-V with the Premium replication account stpremrepl"),
        ("hyperv", PREMIUM, [CACHE_SOFT_DELETE, CACHE_PREMIUM, CACHE], "stcache", True, "separate Standard"),
        ("hyperv", PREMIUM, [CACHE_V1, CACHE_ELSEWHERE], None, False, "candidates rejected: stcachev1: kind is"),
        ("hyperv", PREMIUM, [], None, False, "no cache account is declared"),
        # Agent-based: a Standard replication account serves as its own cache.
        ("vmware", STANDARD, [CACHE], "strepl", True, "VMware replicates through the appliance"),
        ("physical", STANDARD, [], "strepl", True, "the Standard replication account strepl serves as the cache"),
        ("aws", STANDARD, [], "strepl", True, "AWS replicates through the appliance"),
        ("gcp", STANDARD, [], "strepl", True, "GCP replicates through the appliance"),
        # Agent-based with a Premium (or soft-deleting) replication account: a separate Standard cache account.
        ("vmware", PREMIUM, [CACHE], "stcache", True, "cannot be one (SKU is Premium_LRS"),
        ("gcp", PREMIUM, [CACHE_PREMIUM], None, False, "stcacheprem: SKU is Premium_LRS"),
        ("physical", STANDARD_SOFT_DELETE, [CACHE], "stcache", True, "cannot be one (blob soft delete is on"),
        # The replication account itself must be usable.
        ("vmware", account("strv1", kind="Storage"), [CACHE], None, False, "replication account strv1 cannot be used"),
    ],
)
def test_select_cache_account(
    source: str,
    replication: AccountFacts,
    candidates: list[AccountFacts],
    account_name: str | None,
    ok: bool,
    reason: str,
) -> None:
    choice = select_cache_account(source, replication, candidates, "eastus")  # type: ignore[arg-type]
    assert (choice.account, choice.ok) == (account_name, ok), choice
    assert reason in choice.reason
    assert bool(choice.fix) is not ok


def test_a_failed_choice_says_what_to_declare() -> None:
    choice = select_cache_account("hyperv", PREMIUM, [], "East US")
    assert "declare a Standard StorageV2 account in eastus with blob soft delete off as role: cache" in choice.fix


def test_unknown_source_type() -> None:
    with pytest.raises(ValueError, match="unknown source type 'xen'"):
        select_cache_account("xen", STANDARD, [], "eastus")  # type: ignore[arg-type]


# -- connections ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "numeric"),
    [
        ("pe-rsv-finance-asr.2217284932671923881.backup.9c2d", "2217284932671923881"),
        ("rsv.123", "123"),
    ],
)
def test_vault_numeric_id(name: str, numeric: str) -> None:
    assert vault_numeric_id(name) == numeric


@pytest.mark.parametrize("name", ["no-dots", "trailing.", ""])
def test_vault_numeric_id_rejects_other_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a Site Recovery vault's private endpoint connection"):
        vault_numeric_id(name)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("Approved", "proceed"),
        ("approved", "proceed"),
        ("Pending", "wait"),
        ("Rejected", "fail"),
        ("Disconnected", "fail"),
        ("", "fail"),
        (None, "fail"),
    ],
)
def test_connection_verdict(status: str | None, verdict: str) -> None:
    assert connection_verdict(status) == verdict


def test_owner_instructions_give_the_portal_path_and_the_az_command() -> None:
    text = owner_instructions("stfincache01", "rg-storage-finance", SUB, "pe-stfincache01-blob.abc")
    assert "**Security + networking** → **Networking** → **Private endpoint connections**" in text
    assert "Select `pe-stfincache01-blob.abc` and choose **Approve**" in text
    assert (
        "az network private-endpoint-connection approve --id "
        f"/subscriptions/{SUB}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/"
        "stfincache01/privateEndpointConnections/pe-stfincache01-blob.abc \\\n  --description "
    ) in text


@pytest.mark.parametrize(("status", "hint"), [("Rejected", "why they rejected it"), ("Disconnected", "removed")])
def test_rejected_message(status: str, hint: str) -> None:
    endpoint = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-x-blob"
    text = rejected_message("stfincache01", "rg-storage-finance", status, endpoint)
    assert f"storage account stfincache01 (resource group rg-storage-finance) is {status}" in text
    assert hint in text
    assert f"Delete the private endpoint {endpoint}" in text and "re-run plmigrate" in text


# -- DNS -----------------------------------------------------------------------------------------------------------

BLOB = "stfinrepl01.blob.core.windows.net"
ASR = "2217284932671923881-asr-pod01-srs1.eus.siterecovery.windowsazure.com"


@pytest.mark.parametrize(
    ("ips", "error", "expected", "ok", "problem", "fix"),
    [
        (["10.20.1.4"], None, ["10.20.1.4"], True, None, None),
        (["10.20.1.4", "10.20.1.5"], None, ["10.20.1.5", "10.20.1.4"], True, None, None),
        (["20.60.1.4"], None, ["10.20.1.4"], False, "resolved to public address 20.60.1.4", "conditional forwarder"),
        (["10.20.1.4", "20.60.1.4"], None, ["10.20.1.4"], False, "public address 20.60.1.4", "forwarder"),
        (["10.20.1.9"], None, ["10.20.1.4"], False, "resolved to 10.20.1.9, not the private endpoint's", "stale"),
        ([], None, ["10.20.1.4"], False, "no A record in the answer", "conditional forwarder for blob.core"),
        ([], "NXDOMAIN", ["10.20.1.4"], False, "no answer: NXDOMAIN", "conditional forwarder"),
        ([], "timeout after 2 s", ["10.20.1.4"], False, "no answer: timeout", "make sure the appliance can reach"),
        (["10.20.1.4"], None, [], False, "not the private endpoint's (none known)", "stale"),
    ],
)
def test_dns_verdict(
    ips: list[str], error: str | None, expected: list[str], ok: bool, problem: str | None, fix: str | None
) -> None:
    answer = DnsAnswer(fqdn=BLOB, nameserver="10.0.0.4:53", ips=ips, error=error)
    result = dns_verdict(answer, expected)
    assert (result.ok, result.fqdn, result.nameserver, result.got, result.expected) == (
        ok,
        BLOB,
        "10.0.0.4:53",
        ips,
        expected,
    )
    if problem is None:
        assert result.problem is None and result.fix is None
    else:
        assert problem in (result.problem or "")
        assert fix in (result.fix or "")


@pytest.mark.parametrize(
    ("fqdn", "zone"),
    [
        (BLOB, "blob.core.windows.net"),
        ("stfinrepl01.privatelink.blob.core.windows.net.", "blob.core.windows.net"),
        ("StFinRepl01.Blob.Core.Windows.Net", "blob.core.windows.net"),
        (ASR, "eus.siterecovery.windowsazure.com"),
        ("2217-asr-pod01-rcm1.wus2.privatelink.siterecovery.windowsazure.com", "wus2.siterecovery.windowsazure.com"),
        ("host.example.corp", "example.corp"),
    ],
)
def test_public_zone_for(fqdn: str, zone: str) -> None:
    assert public_zone_for(fqdn) == zone


def test_dns_remediation_names_each_bad_answer_the_forwarders_and_hosts_lines() -> None:
    bad = [
        DnsResult(False, BLOB, "10.0.0.4:53", ["20.60.1.4"], ["10.20.1.4"], "resolved to public address 20.60.1.4"),
        DnsResult(False, ASR, "10.0.0.5:53", [], ["10.20.1.7"], "no answer: NXDOMAIN"),
    ]
    text = dns_remediation(bad, "eastus")
    assert f"- {BLOB} via 10.0.0.4:53: resolved to public address 20.60.1.4 (got 20.60.1.4; expected 10.20.1.4)" in text
    assert f"- {ASR} via 10.0.0.5:53: no answer: NXDOMAIN (got nothing; expected 10.20.1.7)" in text
    assert "(10.0.0.4:53, 10.0.0.5:53)" in text
    assert "- blob.core.windows.net (private zone privatelink.blob.core.windows.net)" in text
    assert "- eus.siterecovery.windowsazure.com (private zone privatelink.siterecovery.windowsazure.com)" in text
    assert "168.63.129.16" in text and "unreachable from on-prem" in text
    assert text.endswith(f"10.20.1.4 {BLOB}\n10.20.1.7 {ASR}")


def test_dns_remediation_adds_the_regions_site_recovery_zone() -> None:
    odd = "2217-asr-pod01-srs1.siterecovery.windowsazure.com"  # no geo label in the name
    text = dns_remediation([DnsResult(False, odd, "10.0.0.4:53", [], ["10.1.1.1"], "no A record")], "West US 2")
    assert "- wus2.siterecovery.windowsazure.com" in text
